package sqlstore

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"orderbot/orders"
)

var updatePgbench = flag.Bool("update", false, "rewrite scripts/pgbench/*.sql from PlaceOrder's statements")

// pgbenchDir holds the pgbench scripts scripts/bench-postgres.sh runs.
const pgbenchDir = "../../scripts/pgbench"

// A pgbenchShape is an orderShape's orders as a pgbench script places them:
// pgbench expressions (of variables, which are numbers) for what the Go
// benchmark passes for the ? of each statement.
type pgbenchShape struct {
	about string        // what the orders are, for the script's comment
	sets  []string      // \set commands: a variable and its expression
	lines []pgbenchLine // the order's lines, one unit each
	total string        // the order's total
}

// A pgbenchLine is a line's variant SKU and its price, in minor units.
type pgbenchLine struct{ sku, price string }

// pgbenchHeader opens every script; %s is the shape's name.
const pgbenchHeader = `Generated from PlaceOrder's statements by TestPgbenchScripts
(orders/sqlstore/bench_pgbench_test.go); do not edit, run
  go test ./orders/sqlstore -run PgbenchScripts -update

One order placed the way sqlstore.PlaceOrder places it on PostgreSQL,
statement for statement, in one transaction: the order row
(qInsertOrderReturning), per line the stock reservation (qReserve) and the
line (qInsertLine), the first history entry (qInsertFirstChange), the
notification (qInsertOutbox) and the lines read back (qLinesOfOrder), with
what BenchmarkPlaceOrderClients/postgres/%s passes for each ?.
scripts/bench-postgres.sh runs it.

:r numbers the order and is its checkout key: 63 random bits, unique in
practice (a taken one would insert no row, and \gset would stop the
client). Every order is placed at the same time, :at: pgbench has no
clock, and times are only stored. pgbench's variables are numbers: the
server makes a SKU of one.`

// script returns the pgbench script placing the orders of shape name.
func (sh pgbenchShape) script(name string) (string, error) {
	c := draft("")
	str := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	status := str(string(orders.StatusPendingShipment))
	var w strings.Builder
	comment := func(text string) {
		for l := range strings.SplitSeq(text, "\n") {
			fmt.Fprintln(&w, strings.TrimRight("-- "+l, " "))
		}
	}
	comment(fmt.Sprintf(pgbenchHeader, name))
	fmt.Fprintln(&w, "--")
	comment(sh.about)
	sets := append(append([]string{}, sh.sets...), "r random(1, 9223372036854775806)", "at 1767225600000000")
	for _, s := range sets {
		fmt.Fprintf(&w, "\\set %s\n", s)
	}
	fmt.Fprintln(&w, "BEGIN;")
	statement := func(end, q string, args ...string) error {
		parts := strings.Split(q, "?")
		if len(parts) != len(args)+1 {
			return fmt.Errorf("%d values for the %d parameters of %s", len(args), len(parts)-1, q)
		}
		for i, a := range args {
			w.WriteString(parts[i] + a)
		}
		w.WriteString(parts[len(args)] + end + "\n")
		return nil
	}
	cu := c.Customer
	err := statement(` \gset`, qInsertOrderReturning, ":r", ":r", str(cu.Channel), str(cu.Chat), str(cu.User), str(cu.Lang),
		status, sh.total, str("CNY"), str(c.Address), str(c.ContactName), str(c.Phone), str(string(c.Payment)),
		str(c.CostCentre), str(c.Reason), ":at", ":at", str(c.FulfilmentChat))
	for i, l := range sh.lines {
		err = cmp.Or(err,
			statement(";", qReserve, "1", l.sku, "1", l.price, str("CNY")),
			statement(";", qInsertLine, ":id", fmt.Sprint(i+1), "1", l.sku))
	}
	err = cmp.Or(err,
		statement(";", qInsertFirstChange, ":id", "''", status, str(orders.ActorCustomer), "''", ":at"),
		statement(";", qInsertOutbox, ":r", str(cu.Channel), str(cu.Chat), str(cu.User), str(cu.Lang),
			"''", status, "''", "''", str(orders.ActorCustomer), ":at", ":at"),
		statement(";", qLinesOfOrder, ":id"))
	fmt.Fprintln(&w, "END;")
	return w.String(), err
}

// TestPgbenchScripts checks that scripts/pgbench runs the statements
// PlaceOrder runs now, as BenchmarkPlaceOrderClients places its orders;
// with -update it rewrites the scripts first.
func TestPgbenchScripts(t *testing.T) {
	for _, shape := range orderShapes {
		path := filepath.Join(pgbenchDir, "place_"+shape.name+".sql")
		want, err := shape.pgbench.script(shape.name)
		if err != nil {
			t.Fatalf("%s: %v", shape.name, err)
		}
		if *updatePgbench {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s is not what PlaceOrder runs now: go test ./orders/sqlstore -run PgbenchScripts -update", path)
		}
	}
}
