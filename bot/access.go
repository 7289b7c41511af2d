package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
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
	TTL       time.Duration // how long a group's members are trusted; default 5m
	Now       func() time.Time

	mu    sync.Mutex
	cache map[string]groupEntry
}

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
// grant: the error says why, and a stale cached answer is used while Slack is down.
func (a *Access) Allowed(ctx context.Context, user string, role Role) (bool, error) {
	var ids []string
	switch role {
	case RoleAnyone:
		return true, nil
	case RoleOperator:
		ids = a.Operators
	case RoleApprover:
		ids = a.Approvers
	}
	if slices.Contains(ids, user) {
		return true, nil
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
			return true, nil
		}
	}
	if len(errs) > 0 {
		return false, fmt.Errorf("could not check user groups: %s", strings.Join(errs, "; "))
	}
	return false, nil
}

func (a *Access) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// members returns a group's members from the cache, refreshing it when older than TTL.
func (a *Access) members(ctx context.Context, group string) ([]string, error) {
	ttl := a.TTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	a.mu.Lock()
	e, ok := a.cache[group]
	a.mu.Unlock()
	if ok && a.now().Sub(e.at) < ttl {
		return e.members, nil
	}
	if a.Groups == nil {
		return nil, fmt.Errorf("group %s: no Slack client to resolve it", group)
	}
	members, err := a.Groups.GroupMembers(ctx, group)
	if err != nil {
		if ok {
			return e.members, nil // Slack is down: the last known members still count
		}
		return nil, fmt.Errorf("group %s: %w", group, err)
	}
	a.mu.Lock()
	if a.cache == nil {
		a.cache = map[string]groupEntry{}
	}
	a.cache[group] = groupEntry{members: members, at: a.now()}
	a.mu.Unlock()
	return members, nil
}
