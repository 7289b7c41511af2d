package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/bot"
	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong/adminapi"
	"github.com/drawbridge/drawbridge/kong/pgdb"
	"github.com/drawbridge/drawbridge/notify"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
)

// App is drawbridge's running parts: the engine, the Slack bot, the outbox delivery and the
// janitor that applies the retention settings, over one state store. serve and the
// end-to-end tests build the same App.
type App struct {
	Config    *config.Config
	Store     *storage.Store
	Engine    *upgrade.Engine
	Bot       *bot.Bot
	Deliverer *notify.Deliverer
	Slack     *slack.Client

	log     *slog.Logger
	janitor *janitor
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errs    chan error
}

// AppOptions adjust an App for tests.
type AppOptions struct {
	Metrics prometheus.Registerer // nil: not registered
	// Engine lets tests change the engine's options (clock, watcher, poll interval).
	Engine func(*upgrade.Options)
	// Deliverer lets tests change the outbox delivery (clock, backoff).
	Deliverer func(*notify.Deliverer)
	// Bot lets tests change the bot's options (wrap its store, say).
	Bot func(*bot.Options)
}

// NewApp assembles the App; Start runs it.
func NewApp(cfg *config.Config, store *storage.Store, log *slog.Logger, o AppOptions) (*App, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	slackOpts := []slack.Option{}
	if cfg.Slack.APIURL != "" {
		slackOpts = append(slackOpts, slack.OptionAPIURL(cfg.Slack.APIURL))
	}
	if cfg.Slack.AppToken != "" {
		slackOpts = append(slackOpts, slack.OptionAppLevelToken(cfg.Slack.AppToken.Reveal()))
	}
	api := slack.New(cfg.Slack.BotToken.Reveal(), slackOpts...)
	if err := pgdb.RemovePassfiles(PassfileDir(cfg)); err != nil {
		log.Warn("remove password files a killed drawbridge left", "dir", PassfileDir(cfg), "err", err)
	}
	a := &App{Config: cfg, Store: store, Slack: api, log: log, errs: make(chan error, 2)}
	a.Deliverer = &notify.Deliverer{Store: store, Slack: notify.NewSlack(api), Metrics: o.Metrics, Log: log.With("part", "outbox")}
	if o.Deliverer != nil {
		o.Deliverer(a.Deliverer)
	}
	outbox := &notify.Outbox{Store: store, Channel: cfg.Slack.Channel, Kick: a.Deliverer.Kick}

	// The engine's events become messages in the outbox, rendered from their snapshots.
	eopts := EngineOptions(cfg, store, log.With("part", "engine"))
	eopts.Sink = &notify.Sink{Queue: outbox, Config: cfg, Log: log.With("part", "notify")}
	if o.Engine != nil {
		o.Engine(&eopts)
	}
	eng, err := upgrade.New(eopts)
	if err != nil {
		return nil, err
	}
	now := time.Now
	var clock upgrade.Clock = wallClock{}
	if eopts.Clock != nil {
		now = eopts.Clock.Now // the bot reads windows on the engine's clock
		clock = eopts.Clock
	}
	a.janitor = &janitor{store: store, backups: eng, retention: cfg.Retention, clock: clock, log: log.With("part", "retention")}
	bopts := bot.Options{
		Config: cfg, Engine: eng, Store: store, Records: store, Outbox: outbox, Nodes: &adminapi.Client{}, Now: now,
		Access: &bot.Access{Operators: cfg.Access.Operators, Approvers: cfg.Access.Approvers, Groups: groups{api}, Now: now},
		Log:    log.With("part", "bot"),
	}
	if o.Bot != nil {
		o.Bot(&bopts)
	}
	b, err := bot.New(bopts)
	if err != nil {
		return nil, err
	}
	a.Engine, a.Bot = eng, b
	return a, nil
}

// groups resolves Slack user groups (usergroups.users.list).
type groups struct{ api *slack.Client }

func (g groups) GroupMembers(ctx context.Context, group string) ([]string, error) {
	members, err := g.api.GetUserGroupMembersContext(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("usergroups.users.list %s: %w", group, err)
	}
	return members, nil
}

// Start delivers the outbox, starts the janitor, runs the bot's workers (and Socket Mode
// when an app token is set) and resumes unfinished runs.
func (a *App) Start(ctx context.Context) error {
	ctx, a.cancel = context.WithCancel(ctx)
	a.wg.Go(func() {
		if err := a.Deliverer.Run(ctx); err != nil {
			a.errs <- fmt.Errorf("outbox delivery: %w", err)
		}
	})
	a.wg.Go(func() { a.janitor.run(ctx) })
	a.Bot.Start()
	if a.Config.Slack.SocketMode() {
		a.wg.Go(func() {
			if err := a.Bot.RunSocketMode(ctx, a.Slack); err != nil && !errors.Is(err, context.Canceled) {
				a.errs <- fmt.Errorf("socket mode: %w", err)
			}
		})
	}
	return a.Engine.Recover(ctx)
}

// Errors reports a part that stopped on its own.
func (a *App) Errors() <-chan error { return a.errs }

// Routes registers the Slack endpoints (HTTP transport) on mux.
func (a *App) Routes(mux *http.ServeMux) {
	if a.Config.Slack.SigningSecret == "" {
		return // Socket Mode only: there is nothing to verify HTTP requests with
	}
	mux.Handle("POST /slack/commands", a.Bot.CommandsHandler())
	mux.Handle("POST /slack/interactions", a.Bot.InteractionsHandler())
}

// Close stops in order: no new Slack work, runs at a safe point, then the outbox
// delivery (what the runs emitted last is in bbolt and goes out at the next start) and the
// janitor.
func (a *App) Close() {
	a.Bot.Close()
	a.Engine.Close()
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
}

// wallClock is the janitor's clock when the engine has none of a test's.
type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
