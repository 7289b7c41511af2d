package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/units"
)

// GroupMembers resolves a Slack user group to its members (usergroups.users.list).
type GroupMembers interface {
	GroupMembers(ctx context.Context, group string) ([]string, error)
}

// Access decides who may do what: operators and approvers are user IDs or user group
// IDs; groups are resolved through Slack and cached.
type Access struct {
	Operators []string
	Approvers []string
	Groups    GroupMembers
	TTL       time.Duration // how long a group's members are used before Slack is asked again; default 5m
	Now       func() time.Time

	mu    sync.Mutex
	cache map[string]groupEntry
}

// staleFor is how long a group's members, as Slack last told them, still count while
// Slack cannot be asked (usergroups.users.list failing: an outage, a rate limit, a revoked
// scope). Long enough to ride out a short outage; short enough that someone taken out of
// the group cannot act for long on the old answer. Past it, access through the group fails
// closed, with the error saying why. A constant rather than a setting: it bounds a
// security decision, and no setup has a reason to trust an old answer for longer.
const staleFor = 30 * time.Minute

type groupEntry struct {
	members []string
	at      time.Time
}

// Role is what an action needs.
type Role string

const (
	RoleAnyone   Role = "anyone in the channel"
	RoleOperator Role = "operator"
	RoleApprover Role = "approver"
)

// Allowed reports whether user holds role. A group that cannot be resolved is not a
// grant: the error says why. While Slack is down, a group's last known members count for
// staleFor after Slack last told them.
func (a *Access) Allowed(ctx context.Context, user string, role Role) (bool, error) {
	_, ok, err := a.Grant(ctx, user, role)
	return ok, err
}

// Grant is Allowed saying what made user eligible: the user's own ID, or the user group it
// is a member of ("" for RoleAnyone). The change record keeps it with every decision.
func (a *Access) Grant(ctx context.Context, user string, role Role) (via string, ok bool, err error) {
	var ids []string
	switch role {
	case RoleAnyone:
		return "", true, nil
	case RoleOperator:
		ids = a.Operators
	case RoleApprover:
		ids = a.Approvers
	}
	if slices.Contains(ids, user) {
		return user, true, nil
	}
	var errs []string
	for _, id := range ids {
		if !strings.HasPrefix(id, "S") {
			continue
		}
		members, err := a.members(ctx, id)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if slices.Contains(members, user) {
			return id, true, nil
		}
	}
	if len(errs) > 0 {
		return "", false, fmt.Errorf("could not check user groups: %s", strings.Join(errs, "; "))
	}
	return "", false, nil
}

func (a *Access) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// members returns a group's members from the cache, refreshing it when older than TTL.
// When Slack cannot be asked, the cached members count until staleFor after they were
// fetched; then the group grants nothing.
func (a *Access) members(ctx context.Context, group string) ([]string, error) {
	ttl := a.TTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	a.mu.Lock()
	e, ok := a.cache[group]
	a.mu.Unlock()
	now := a.now()
	if ok && now.Sub(e.at) < ttl {
		return e.members, nil
	}
	if a.Groups == nil {
		return nil, fmt.Errorf("group %s: no Slack client to resolve it", group)
	}
	members, err := a.Groups.GroupMembers(ctx, group)
	if err != nil {
		switch {
		case !ok:
			return nil, fmt.Errorf("group %s: %w", group, err)
		case now.Sub(e.at) < staleFor:
			return e.members, nil // Slack is down: the last known members count for a while
		}
		return nil, fmt.Errorf("group %s: Slack has not answered for its members since %s (%w); after %s an old answer is no longer trusted",
			group, e.at.UTC().Format("15:04 UTC"), err, units.Duration(staleFor))
	}
	a.mu.Lock()
	if a.cache == nil {
		a.cache = map[string]groupEntry{}
	}
	a.cache[group] = groupEntry{members: members, at: a.now()}
	a.mu.Unlock()
	return members, nil
}
