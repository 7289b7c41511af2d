// Package words is every sentence drawbridge writes about a run outside a Slack message's
// layout: the details of preflight's checks and the plan's step notes, the reasons runs
// end with, the gate's expiry, notices, the lines the engine adds to a step's output, the
// summary line and the replies that refuse a command. Each is a pure function of typed
// facts, so the engine decides and this package words; notify's renderers, the engine and
// the bot all take their sentences from here, and one golden file (testdata/words.golden)
// pins every one of them.
//
// Errors stay where they happen: an error wraps its cause with what was being done (Go's
// convention), and the words here put such errors into sentences.
//
// It imports only domain and units: sizes and durations read the same everywhere.
package words
