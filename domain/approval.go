package domain

import "time"

// Decision is an approver's answer at the gate. It is stored as its string.
type Decision string

// Decisions.
const (
	DecisionApprove Decision = "approve"
	DecisionReject  Decision = "reject"
)

// Valid reports whether d is one of the known decisions.
func (d Decision) Valid() bool { return d == DecisionApprove || d == DecisionReject }

// Approval is one user's decision on a run.
type Approval struct {
	UserID   string    `json:"user_id"`
	Decision Decision  `json:"decision"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
	// EligibleAs is what made the user an approver: their own ID, or the user group they
	// are a member of ("" when not recorded).
	EligibleAs string `json:"eligible_as,omitempty"`
}
