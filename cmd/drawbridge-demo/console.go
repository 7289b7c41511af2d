package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/drawbridge/drawbridge/internal/console"
	"github.com/drawbridge/drawbridge/internal/demo"
)

// defaultUser is the console's one person unless -user says otherwise: the member ID that
// examples/docker.yaml (the lab's configuration) lists as operator and approver.
const defaultUser = "U0AAAAAAA=You=operator, approver"

var (
	reChannel = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	reUser    = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
)

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runConsole is "drawbridge-demo console": the demo's console alone, in front of a
// drawbridge that runs elsewhere, until Ctrl-C.
func runConsole(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o demo.ConsoleOptions
	var secretFile, tokenFile string
	var users, hints listFlag
	fs := flag.NewFlagSet("drawbridge-demo console", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: drawbridge-demo console -drawbridge URL -channel C… [flags]")
		fmt.Fprintln(stderr, "The console alone: Slack's Web API for drawbridge (slack.api_url: http://<this address>/api/) and")
		fmt.Fprintln(stderr, "the page for you; commands and clicks go to drawbridge signed with its signing secret.")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:8090", "address of the page and the Web API (:8090 for every interface)")
	fs.StringVar(&o.Drawbridge, "drawbridge", "", "drawbridge's HTTP address, e.g. http://drawbridge:8080 (required)")
	fs.StringVar(&secretFile, "signing-secret-file", "", "file holding drawbridge's slack.signing_secret (default: $SLACK_SIGNING_SECRET)")
	fs.StringVar(&tokenFile, "bot-token-file", "", "file holding drawbridge's slack.bot_token, the one token the Web API accepts (default: $SLACK_BOT_TOKEN)")
	fs.StringVar(&o.Channel, "channel", "", "drawbridge's slack.channel, a channel ID (default: $SLACK_CHANNEL)")
	fs.StringVar(&o.Command, "command", "/kong-upgrade", "drawbridge's slack.command")
	fs.Var(&users, "user", "who the page can act as, ID=Name[=role]; repeat for several (default \""+defaultUser+"\")")
	fs.Var(&hints, "hint", "a line of \"What to try\" (mrkdwn); repeat for several")
	fs.StringVar(&o.Data, "data", "", "directory to keep the channel in (console.json) across restarts; empty: nothing is kept")
	verbose := fs.Bool("v", false, "log every request forwarded")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q (every setting is a flag)", fs.Args()))
	}
	switch u, err := url.Parse(o.Drawbridge); {
	case o.Drawbridge == "":
		problems = append(problems, "-drawbridge is required: drawbridge's HTTP address, e.g. http://drawbridge:8080 (the console posts to /slack/commands and /slack/interactions there)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		problems = append(problems, fmt.Sprintf("-drawbridge %q is not an http(s) URL such as http://drawbridge:8080", o.Drawbridge))
	}
	var p string
	if o.SigningSecret, p = secret(secretFile, "-signing-secret-file", "SLACK_SIGNING_SECRET", "drawbridge's slack.signing_secret"); p != "" {
		problems = append(problems, p)
	}
	if o.BotToken, p = secret(tokenFile, "-bot-token-file", "SLACK_BOT_TOKEN", "drawbridge's slack.bot_token"); p != "" {
		problems = append(problems, p)
	} else if !strings.HasPrefix(o.BotToken, "xoxb-") {
		problems = append(problems, "the bot token does not start with xoxb-: drawbridge refuses such a slack.bot_token, so it could never match")
	}
	if o.Channel == "" {
		o.Channel = os.Getenv("SLACK_CHANNEL")
	}
	switch {
	case o.Channel == "":
		problems = append(problems, "-channel is required (or $SLACK_CHANNEL): drawbridge's slack.channel, e.g. C0LAB00001")
	case !reChannel.MatchString(o.Channel):
		problems = append(problems, fmt.Sprintf("-channel %q is not a channel ID (C… or G…, upper case)", o.Channel))
	}
	if len(users) == 0 {
		users = listFlag{defaultUser}
	}
	for _, u := range users {
		user, p := parseUser(u)
		if p != "" {
			problems = append(problems, p)
			continue
		}
		o.Users = append(o.Users, user)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "drawbridge-demo console: %s\n", p)
		}
		fmt.Fprintln(stderr, "(drawbridge-demo console -h lists the flags)")
		return exitUsage
	}
	o.Hints = hints
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	o.Ready = func(page, api string) {
		fmt.Fprintf(stdout, "console ready: open %s\n", page)
		fmt.Fprintf(stdout, "drawbridge's slack.api_url: %s (from another container: http://<this service>:<port>/api/)\n", api)
		fmt.Fprintf(stdout, "commands and clicks go to %s as %s in channel %s\n", o.Drawbridge, userList(o.Users), o.Channel)
	}
	if err := demo.RunConsole(ctx, o); err != nil {
		fmt.Fprintf(stderr, "drawbridge-demo console: %v\n", err)
		return 1
	}
	return 0
}

// secret reads a secret from file, or from the environment variable env when file is
// empty; the second result is the problem, naming flag and variable.
func secret(file, flagName, env, what string) (string, string) {
	if file == "" {
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return "", fmt.Sprintf("%s is missing: give %s FILE or set %s", what, flagName, env)
		}
		return v, ""
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Sprintf("%s: %v", flagName, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Sprintf("%s: %s is empty; it should hold %s", flagName, file, what)
	}
	return v, ""
}

// parseUser reads -user's ID=Name[=role].
func parseUser(v string) (console.User, string) {
	id, rest, _ := strings.Cut(v, "=")
	name, role, _ := strings.Cut(rest, "=")
	u := console.User{ID: strings.TrimSpace(id), Name: strings.TrimSpace(name), Role: strings.TrimSpace(role)}
	if !reUser.MatchString(u.ID) {
		return u, fmt.Sprintf("-user %q: %q is not a member ID (U…, as drawbridge's access lists them); want ID=Name[=role]", v, u.ID)
	}
	if u.Name == "" {
		u.Name = u.ID
	}
	return u, ""
}

func userList(us []console.User) string {
	var names []string
	for _, u := range us {
		names = append(names, u.Name+" ("+u.ID+")")
	}
	return strings.Join(names, ", ")
}
