package orders

import (
	"reflect"
	"strings"
	"testing"
)

// testApprovalRules is an office: Ann reports to Bo, Bo to Cy; the IT
// group has two approvers and finance one. It has no rules: each test
// brings its own.
func testApprovalRules(rules ...ApprovalRule) *ApprovalRules {
	return &ApprovalRules{
		Managers: map[string]string{"U-ann": "U-bo", "U-bo": "U-cy"},
		Groups:   map[string][]string{"it": {"U-it1", "U-it2"}, "finance": {"U-fin"}},
		Rules:    rules,
	}
}

func yuan(amount int64) *Money { return &Money{Amount: amount, Currency: "CNY"} }

// companyDraft is Ann's order on cost centre CC-7, from Slack.
func companyDraft() Draft {
	return Draft{
		CheckoutKey: "k1",
		Customer:    Customer{Channel: "slack", Chat: "D1", User: "U-ann", Lang: "en"},
		Lines:       []DraftLine{{VariantSKU: "pen-blk", Quantity: 4, UnitPrice: Money{250, "CNY"}}},
		Address:     "Office 3, Floor 2",
		ContactName: "Ann",
		Phone:       "+8613800000000",
		Payment:     PayCompany,
		CostCentre:  "CC-7",
	}
}

// Pens (office supplies) for ¥10.00 and a laptop (IT) for ¥8000.00.
var (
	penLines    = []Line{{VariantSKU: "pen-blk", ProductSKU: "pen", UnitPrice: Money{250, "CNY"}, Quantity: 4}}
	laptopLines = []Line{
		{VariantSKU: "pen-blk", ProductSKU: "pen", UnitPrice: Money{250, "CNY"}, Quantity: 4},
		{VariantSKU: "laptop-14", ProductSKU: "laptop", UnitPrice: Money{800000, "CNY"}, Quantity: 1},
	}
	testCategories = map[string]string{"pen": "office", "laptop": "it"}
)

func categoryOf(sku string) string { return testCategories[sku] }

// wantInvalid fails the test unless err is nil when want is "", and an
// EINVALID error whose message contains want otherwise.
func wantInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("error = %v, want nil", err)
		}
		return
	}
	if ErrorCode(err) != EINVALID || !strings.Contains(ErrorMessage(err), want) {
		t.Errorf("error = %v, want EINVALID containing %q", err, want)
	}
}

func TestApprovers(t *testing.T) {
	tests := []struct {
		name    string
		rules   *ApprovalRules
		change  func(d *Draft)
		lines   []Line
		want    []Approval
		wantErr string
	}{
		{name: "nil rules", rules: nil, want: nil},
		{name: "no rules", rules: testApprovalRules(), want: nil},
		{name: "a rule without conditions matches every order",
			rules: testApprovalRules(ApprovalRule{Name: "everything", Approvers: []string{"U-fin"}}),
			want:  []Approval{{Approver: "U-fin", Rule: "everything"}}},
		{name: "total over the limit",
			rules: testApprovalRules(ApprovalRule{Name: "over ¥5", TotalOver: yuan(500), Approvers: []string{"manager"}}),
			want:  []Approval{{Approver: "U-bo", Rule: "over ¥5"}}},
		{name: "total equal to the limit is not over it",
			rules: testApprovalRules(ApprovalRule{Name: "over ¥10", TotalOver: yuan(1000), Approvers: []string{"manager"}})},
		{name: "total compared with another currency is refused",
			rules:   testApprovalRules(ApprovalRule{Name: "over $5", TotalOver: &Money{500, "USD"}, Approvers: []string{"manager"}}),
			wantErr: `approval rule "over $5" compares totals in USD, and this order is in CNY`},
		{name: "another currency does not matter when another condition fails",
			rules: testApprovalRules(ApprovalRule{Name: "IT over $5", TotalOver: &Money{500, "USD"}, Categories: []string{"it"}, Approvers: []string{"manager"}})},
		{name: "category of any line",
			rules: testApprovalRules(ApprovalRule{Name: "IT equipment", Categories: []string{"furniture", "it"}, Approvers: []string{"group:it"}}),
			lines: laptopLines,
			want:  []Approval{{Approver: "U-it1", Rule: "IT equipment"}, {Approver: "U-it2", Rule: "IT equipment"}}},
		{name: "category of no line",
			rules: testApprovalRules(ApprovalRule{Name: "IT equipment", Categories: []string{"it"}, Approvers: []string{"group:it"}})},
		{name: "cost centre, ignoring case and spaces",
			rules:  testApprovalRules(ApprovalRule{Name: "R&D budget", CostCentres: []string{"cc-7"}, Approvers: []string{"group:finance"}}),
			change: func(d *Draft) { d.CostCentre = " CC-7 " },
			want:   []Approval{{Approver: "U-fin", Rule: "R&D budget"}}},
		{name: "another cost centre",
			rules: testApprovalRules(ApprovalRule{Name: "R&D budget", CostCentres: []string{"CC-8"}, Approvers: []string{"group:finance"}})},
		{name: "requester listed",
			rules: testApprovalRules(ApprovalRule{Name: "interns", Requesters: []string{"U-ann"}, Approvers: []string{"manager"}}),
			want:  []Approval{{Approver: "U-bo", Rule: "interns"}}},
		{name: "requester not listed",
			rules: testApprovalRules(ApprovalRule{Name: "interns", Requesters: []string{"U-dee"}, Approvers: []string{"manager"}})},
		{name: "combined conditions all match",
			rules: testApprovalRules(ApprovalRule{Name: "big IT", TotalOver: yuan(100000), Categories: []string{"it"},
				CostCentres: []string{"CC-7"}, Requesters: []string{"U-ann"}, Approvers: []string{"group:it"}}),
			lines: laptopLines,
			want:  []Approval{{Approver: "U-it1", Rule: "big IT"}, {Approver: "U-it2", Rule: "big IT"}}},
		{name: "combined conditions, one fails",
			rules: testApprovalRules(ApprovalRule{Name: "big IT", TotalOver: yuan(100000), Categories: []string{"it"},
				CostCentres: []string{"CC-7"}, Requesters: []string{"U-ann"}, Approvers: []string{"group:it"}}),
			change: func(d *Draft) { d.CostCentre = "CC-8" },
			lines:  laptopLines},
		{name: "distinct approvers, each with the first rule that needs them",
			rules: testApprovalRules(
				ApprovalRule{Name: "IT equipment", Categories: []string{"it"}, Approvers: []string{"group:it"}},
				ApprovalRule{Name: "over ¥1000", TotalOver: yuan(100000), Approvers: []string{"U-it2", "manager", "group:finance"}},
				ApprovalRule{Name: "everything", Approvers: []string{"U-fin", "U-bo"}},
			),
			lines: laptopLines,
			want:  []Approval{{Approver: "U-it1", Rule: "IT equipment"}, {Approver: "U-it2", Rule: "IT equipment"}, {Approver: "U-bo", Rule: "over ¥1000"}, {Approver: "U-fin", Rule: "over ¥1000"}}},
		{name: "the manager of another requester",
			rules:  testApprovalRules(ApprovalRule{Name: "everything", Approvers: []string{"manager"}}),
			change: func(d *Draft) { d.Customer.User = "U-bo" },
			want:   []Approval{{Approver: "U-cy", Rule: "everything"}}},
		{name: "no manager configured",
			rules:   testApprovalRules(ApprovalRule{Name: "everything", Approvers: []string{"manager", "group:finance"}}),
			change:  func(d *Draft) { d.Customer.User = "U-dee" },
			wantErr: "no manager is configured for this requester"},
		{name: "the requester does not approve their own order",
			rules:  testApprovalRules(ApprovalRule{Name: "IT equipment", Approvers: []string{"group:it"}}),
			change: func(d *Draft) { d.Customer.User = "U-it1" },
			want:   []Approval{{Approver: "U-it2", Rule: "IT equipment"}}},
		{name: "no approver but the requester",
			rules:   testApprovalRules(ApprovalRule{Name: "finance", Approvers: []string{"group:finance"}}),
			change:  func(d *Draft) { d.Customer.User = "U-fin" },
			wantErr: `approval rule "finance" needs an approver other than the requester`},
		{name: "an undefined group is refused",
			rules:   testApprovalRules(ApprovalRule{Name: "legal", Approvers: []string{"group:legal"}}),
			wantErr: `approval rule "legal" names approver group "legal", which is not defined`},
		{name: "orders not paid by the company need no approval",
			rules:  testApprovalRules(ApprovalRule{Name: "everything", Approvers: []string{"U-fin"}}),
			change: func(d *Draft) { d.Payment = PayOnDelivery }},
		{name: "a channel not listed",
			rules: func() *ApprovalRules {
				r := testApprovalRules(ApprovalRule{Name: "everything", Approvers: []string{"U-fin"}})
				r.Channels = []string{"teams"}
				return r
			}()},
		{name: "a channel listed",
			rules: func() *ApprovalRules {
				r := testApprovalRules(ApprovalRule{Name: "everything", Approvers: []string{"U-fin"}})
				r.Channels = []string{"teams", "slack"}
				return r
			}(),
			want: []Approval{{Approver: "U-fin", Rule: "everything"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := companyDraft()
			if tt.change != nil {
				tt.change(&d)
			}
			lines := tt.lines
			if lines == nil {
				lines = penLines
			}
			got, err := tt.rules.Approvers(d, lines, categoryOf)
			if tt.wantErr != "" {
				if ErrorCode(err) != EINVALID || ErrorMessage(err) != tt.wantErr {
					t.Fatalf("Approvers = %v, %v; want EINVALID %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Approvers: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Approvers = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestApprovalRulesValidate(t *testing.T) {
	valid := func() *ApprovalRules {
		r := testApprovalRules(
			ApprovalRule{Name: "IT equipment", Categories: []string{"it"}, Approvers: []string{"group:it"}},
			ApprovalRule{Name: "over ¥1000", TotalOver: yuan(100000), Approvers: []string{"manager", "U-fin"}},
			ApprovalRule{Name: "interns", Requesters: []string{"U-ann"}, Approvers: []string{"U-ann", "manager"}},
		)
		r.Channels = []string{"slack"}
		return r
	}
	tests := []struct {
		name   string
		change func(r *ApprovalRules)
		want   string // "" for valid
	}{
		{"valid", func(r *ApprovalRules) {}, ""},
		{"no rules at all", func(r *ApprovalRules) { *r = ApprovalRules{} }, ""},
		{"unknown group", func(r *ApprovalRules) { r.Rules[0].Approvers = []string{"group:legal"} },
			`approval rule 1 ("IT equipment"): approver group "legal" is not defined`},
		{"no approvers", func(r *ApprovalRules) { r.Rules[1].Approvers = nil }, `approval rule 2 ("over ¥1000"): it has no approvers`},
		{"empty approver", func(r *ApprovalRules) { r.Rules[1].Approvers = []string{""} }, "an approver is empty"},
		{"zero total", func(r *ApprovalRules) { r.Rules[1].TotalOver = yuan(0) }, "the total it compares with must be positive"},
		{"negative total", func(r *ApprovalRules) { r.Rules[1].TotalOver = yuan(-1) }, "the total it compares with must be positive"},
		{"total without currency", func(r *ApprovalRules) { r.Rules[1].TotalOver = &Money{Amount: 100} },
			`currency "" is not a 3-letter upper-case code`},
		{"rule without name", func(r *ApprovalRules) { r.Rules[0].Name = " " }, "a rule needs a name to show approvers"},
		{"same name twice", func(r *ApprovalRules) { r.Rules[2].Name = "IT equipment" }, `approval rule 3: the name "IT equipment" is used twice`},
		{"empty category", func(r *ApprovalRules) { r.Rules[0].Categories = []string{""} }, "a category, cost centre or requester is empty"},
		{"empty cost centre", func(r *ApprovalRules) { r.Rules[0].CostCentres = []string{""} }, "a category, cost centre or requester is empty"},
		{"only requesters approve", func(r *ApprovalRules) { r.Rules[2].Approvers = []string{"U-ann"} },
			"its approvers are all among its requesters"},
		{"empty group", func(r *ApprovalRules) { r.Groups["it"] = nil }, `approver group "it" is empty`},
		{"group with empty member", func(r *ApprovalRules) { r.Groups["it"] = []string{"U-it1", ""} }, `approver group "it" is empty or lists an empty user id`},
		{"empty manager", func(r *ApprovalRules) { r.Managers["U-dee"] = "" }, `a manager entry has an empty user id (requester "U-dee"`},
		{"empty channel", func(r *ApprovalRules) { r.Channels = []string{""} }, "approval channel 1 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.change(r)
			wantInvalid(t, r.Validate(), tt.want)
		})
	}
	var none *ApprovalRules
	if err := none.Validate(); err != nil {
		t.Errorf("nil rules: Validate = %v, want nil", err)
	}
}

func TestDraftValidateCompany(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *Draft)
		want   string // "" for valid
	}{
		{"valid", func(d *Draft) {}, ""},
		{"cost centre of 64 characters, spaces around", func(d *Draft) { d.CostCentre = "  " + strings.Repeat("成", 64) + " " }, ""},
		{"reason of 500 characters", func(d *Draft) { d.Reason = strings.Repeat("因", 500) }, ""},
		{"no cost centre", func(d *Draft) { d.CostCentre = "" }, "an order paid by the company account needs a cost centre"},
		{"blank cost centre", func(d *Draft) { d.CostCentre = " \t" }, "an order paid by the company account needs a cost centre"},
		{"cost centre too long", func(d *Draft) { d.CostCentre = strings.Repeat("x", 65) }, "cost centre is longer than 64 characters"},
		{"reason too long", func(d *Draft) { d.Reason = strings.Repeat("x", 501) }, "reason is longer than 500 characters"},
		{"other payments need no cost centre", func(d *Draft) { d.Payment, d.CostCentre = PayOnDelivery, "" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := companyDraft()
			tt.change(&d)
			wantInvalid(t, d.Validate(), tt.want)
		})
	}
}

func TestFulfilmentValidate(t *testing.T) {
	tests := []struct {
		name string
		desk *Fulfilment
		want string // "" for valid
	}{
		{"valid", &Fulfilment{Chat: "C-desk", Staff: []string{"U-ship1", "U-ship2"}}, ""},
		{"none", nil, ""},
		{"no channel", &Fulfilment{Staff: []string{"U-ship1"}}, "the fulfilment channel is missing"},
		{"blank channel", &Fulfilment{Chat: " ", Staff: []string{"U-ship1"}}, "the fulfilment channel is missing"},
		{"no staff", &Fulfilment{Chat: "C-desk"}, "the fulfilment desk has no staff"},
		{"empty staff id", &Fulfilment{Chat: "C-desk", Staff: []string{"U-ship1", ""}}, "the fulfilment staff lists an empty user id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantInvalid(t, tt.desk.Validate(), tt.want)
		})
	}
}
