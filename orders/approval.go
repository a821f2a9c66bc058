package orders

import (
	"fmt"
	"slices"
	"strings"
)

// ApproverManager and ApproverGroupPrefix are the approvers of a rule that
// are not user ids: the requester's manager, and "group:NAME", every member
// of a group.
const (
	ApproverManager     = "manager"
	ApproverGroupPrefix = "group:"
)

// ApprovalRules decide which orders need approval and by whom.
//
// Approvals apply to orders paid by PayCompany, and to no other: everything
// else an order might be paid with is paid by the customer. Channels, when
// set, narrows that to company orders from those channels.
type ApprovalRules struct {
	Channels []string            // channels whose company orders the rules apply to; empty: every channel
	Managers map[string]string   // requester user id → their manager's user id
	Groups   map[string][]string // group name → approver user ids (e.g. "it" → the IT approvers)
	Rules    []ApprovalRule
}

// ApprovalRule says that orders matching every condition it sets need its
// approvers' approval. A condition left empty is ignored, so a rule with no
// condition matches every order.
type ApprovalRule struct {
	Name        string   // shown to approvers: why approval is needed
	TotalOver   *Money   // matches when the order total is greater than this (same currency)
	Categories  []string // matches when any line's product is in one of these categories
	CostCentres []string // matches when the order's cost centre is one of these, ignoring case
	Requesters  []string // matches when the requester's user id is one of these
	Approvers   []string // ApproverManager, ApproverGroupPrefix+NAME, or user ids
}

// Validate checks that the rules can be applied: every rule has a name of
// its own and approvers, groups exist and have members, totals are positive
// amounts of a currency, and no list holds an empty entry.
func (r *ApprovalRules) Validate() error {
	if r == nil {
		return nil
	}
	if i := slices.Index(r.Channels, ""); i >= 0 {
		return Errorf(EINVALID, "approval channel %d is empty", i+1)
	}
	for requester, manager := range r.Managers {
		if requester == "" || manager == "" {
			return Errorf(EINVALID, "a manager entry has an empty user id (requester %q, manager %q)", requester, manager)
		}
	}
	for name, members := range r.Groups {
		if name == "" {
			return Errorf(EINVALID, "an approver group has no name")
		}
		if len(members) == 0 || slices.Contains(members, "") {
			return Errorf(EINVALID, "approver group %q is empty or lists an empty user id", name)
		}
	}
	names := map[string]bool{}
	for i, rule := range r.Rules {
		if msg := r.checkRule(rule); msg != "" {
			return Errorf(EINVALID, "approval rule %d (%q): %s", i+1, rule.Name, msg)
		}
		if names[rule.Name] {
			return Errorf(EINVALID, "approval rule %d: the name %q is used twice", i+1, rule.Name)
		}
		names[rule.Name] = true
	}
	return nil
}

// checkRule says what is wrong with one rule, or "".
func (r *ApprovalRules) checkRule(rule ApprovalRule) string {
	switch {
	case strings.TrimSpace(rule.Name) == "":
		return "a rule needs a name to show approvers"
	case rule.TotalOver != nil && rule.TotalOver.Amount <= 0:
		return "the total it compares with must be positive"
	case rule.TotalOver != nil && !isCurrencyCode(rule.TotalOver.Currency):
		return fmt.Sprintf("currency %q is not a 3-letter upper-case code", rule.TotalOver.Currency)
	case slices.Contains(rule.Categories, ""), slices.Contains(rule.CostCentres, ""), slices.Contains(rule.Requesters, ""):
		return "a category, cost centre or requester is empty"
	case len(rule.Approvers) == 0:
		return "it has no approvers"
	}
	onlyRequesters := len(rule.Requesters) > 0
	for _, a := range rule.Approvers {
		group, isGroup := strings.CutPrefix(a, ApproverGroupPrefix)
		switch {
		case a == "":
			return "an approver is empty"
		case isGroup && r.Groups[group] == nil:
			return fmt.Sprintf("approver group %q is not defined", group)
		}
		if isGroup || a == ApproverManager || !slices.Contains(rule.Requesters, a) {
			onlyRequesters = false
		}
	}
	if onlyRequesters {
		return "its approvers are all among its requesters, who never approve their own orders"
	}
	return ""
}

// Approvers returns who must approve an order of draft d with the given
// priced lines: the distinct approvers of the rules d matches, in rule
// order, each with the first rule that required it. The requester never
// approves their own order. It returns none for a draft the rules do not
// apply to (see ApprovalRules), and for nil rules.
//
// categoryOf returns the category of a product; it is needed only when a
// rule has categories. It is an EINVALID error, refusing the order rather
// than letting it through unapproved, when a matching rule needs the
// requester's manager and none is configured, when it has no approver left
// once the requester is dropped, or when it compares the total with an
// amount in another currency.
func (r *ApprovalRules) Approvers(d Draft, lines []Line, categoryOf func(productSKU string) string) ([]Approval, error) {
	if r == nil || d.Payment != PayCompany || (len(r.Channels) > 0 && !slices.Contains(r.Channels, d.Customer.Channel)) {
		return nil, nil
	}
	total, ok := Total(lines)
	if !ok {
		return nil, Errorf(EINVALID, "the order total is too large or mixes currencies")
	}
	requester := d.Customer.User
	var out []Approval
	seen := map[string]bool{}
	for _, rule := range r.Rules {
		match, err := rule.matches(d, lines, total, categoryOf)
		if err != nil {
			return nil, err
		}
		if !match {
			continue
		}
		ids, err := r.resolve(rule, requester)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, Approval{Approver: id, Rule: rule.Name})
			}
		}
	}
	return out, nil
}

// matches reports whether an order matches every condition rule sets.
func (rule ApprovalRule) matches(d Draft, lines []Line, total Money, categoryOf func(string) string) (bool, error) {
	if len(rule.Requesters) > 0 && !slices.Contains(rule.Requesters, d.Customer.User) {
		return false, nil
	}
	if len(rule.CostCentres) > 0 && !slices.ContainsFunc(rule.CostCentres, func(cc string) bool {
		return strings.EqualFold(cc, strings.TrimSpace(d.CostCentre))
	}) {
		return false, nil
	}
	if len(rule.Categories) > 0 && !slices.ContainsFunc(lines, func(l Line) bool {
		return categoryOf != nil && slices.Contains(rule.Categories, categoryOf(l.ProductSKU))
	}) {
		return false, nil
	}
	if over := rule.TotalOver; over != nil {
		if len(lines) == 0 {
			return false, nil
		}
		if !strings.EqualFold(total.Currency, over.Currency) {
			// Guessing either way could let an order through unapproved.
			return false, Errorf(EINVALID, "approval rule %q compares totals in %s, and this order is in %s", rule.Name, over.Currency, total.Currency)
		}
		if total.Amount <= over.Amount {
			return false, nil
		}
	}
	return true, nil
}

// resolve turns a matching rule's approvers into user ids, without the
// requester.
func (r *ApprovalRules) resolve(rule ApprovalRule, requester string) ([]string, error) {
	var ids []string
	for _, a := range rule.Approvers {
		switch group, isGroup := strings.CutPrefix(a, ApproverGroupPrefix); {
		case a == ApproverManager:
			m := r.Managers[requester]
			if m == "" {
				return nil, Errorf(EINVALID, "no manager is configured for this requester")
			}
			ids = append(ids, m)
		case isGroup:
			members, ok := r.Groups[group]
			if !ok {
				return nil, Errorf(EINVALID, "approval rule %q names approver group %q, which is not defined", rule.Name, group)
			}
			ids = append(ids, members...)
		default:
			ids = append(ids, a)
		}
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == requester })
	if len(ids) == 0 {
		return nil, Errorf(EINVALID, "approval rule %q needs an approver other than the requester", rule.Name)
	}
	return ids, nil
}

// Fulfilment is where company-account orders are fulfilled: a channel the
// order core announces them in, and the staff who may move them on.
//
// An order is announced there (RoleFulfilment) once it may ship, whether it
// needed no approval or was approved, and again on every later change of
// its status, so that the channel's card can follow it. The channel is
// stored with each company order when it is placed: a later change of
// configuration does not move orders already placed.
type Fulfilment struct {
	Chat  string   // the channel's conversation id (a Slack channel id)
	Staff []string // user ids allowed to mark orders shipped and delivered
}

// Validate checks that a fulfilment desk, when set, has a channel and at
// least one staff member, and no empty user id.
func (f *Fulfilment) Validate() error {
	switch {
	case f == nil:
		return nil
	case strings.TrimSpace(f.Chat) == "":
		return Errorf(EINVALID, "the fulfilment channel is missing")
	case len(f.Staff) == 0:
		return Errorf(EINVALID, "the fulfilment desk has no staff")
	case slices.Contains(f.Staff, ""):
		return Errorf(EINVALID, "the fulfilment staff lists an empty user id")
	}
	return nil
}

// isStaff reports whether user may mark orders shipped and delivered.
func (f *Fulfilment) isStaff(user string) bool {
	return f != nil && user != "" && slices.Contains(f.Staff, user)
}
