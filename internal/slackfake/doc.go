// Package slackfake is a fake Slack Web API on 127.0.0.1 for tests and for the
// demo console. It speaks what drawbridge calls, the way Slack does: form-encoded
// (or JSON) requests to /api/<method>, JSON answers {"ok":true,…} or
// {"ok":false,"error":"…"}, HTTP 429 with Retry-After when rate limited.
//
// Methods: auth.test, chat.postMessage, chat.update, chat.postEphemeral,
// files.getUploadURLExternal, the upload POST (on the fake itself, since
// slack-go sends the token only to the API host), files.completeUploadExternal,
// usergroups.users.list, views.open, and the two reads conversations.history
// and conversations.replies (with message metadata).
//
// The Server records every call (method, parsed parameters, decoded blocks,
// time, answer) and keeps each channel's state: messages by ts with their latest
// text and blocks, their edit count and their thread replies. Faults are
// injected per call by a FaultFunc (429 with Retry-After, 5xx, an ok:false
// error, a delay). Readers return copies under a mutex; WaitFor blocks until a
// predicate over that state holds, woken by every change instead of sleeping.
//
// Use it with slack-go's real client:
//
//	fake := slackfake.New(slackfake.Options{})
//	defer fake.Close()
//	api := slack.New(fake.Token(), slack.OptionAPIURL(fake.URL()))
package slackfake
