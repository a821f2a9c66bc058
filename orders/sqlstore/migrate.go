package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"orderbot/orders"
)

// migrationFiles are the schema changes, applied in the order of the number
// their name starts with ("0001_orders.sql"). A file, once released, never
// changes: a later change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// component names this package's rows in schema_migrations. Sibling stores
// sharing the database (dialog sessions) record their own migrations there
// under their own component, so version numbers never collide.
const component = "orders"

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations reads the embedded migration files in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int]string{}
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same number", other, base)
		}
		seen[v] = base
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// idColumn is what {{id}} in a migration becomes: an auto-increment primary
// key. On SQLite that is the rowid, one more than the largest id: ids are
// never reused as long as the newest row of a table is never deleted. (SQLite's
// AUTOINCREMENT would guarantee it even then, at the cost of one more page
// written by every insert; nothing deletes orders or notifications.)
var idColumn = map[string]string{
	DialectSQLite:   "INTEGER PRIMARY KEY",
	DialectPostgres: "BIGSERIAL PRIMARY KEY",
}

// withoutRowID is what {{without_rowid}} after a table's closing parenthesis
// becomes: SQLite then stores the rows in their primary key's B-tree.
var withoutRowID = map[string]string{
	DialectSQLite:   " WITHOUT ROWID",
	DialectPostgres: "",
}

// statements turns a migration file into the statements of one dialect.
// Statements end with ";" at the end of a line; "--" comment lines are
// dropped.
func statements(src, dialect string) []string {
	src = strings.ReplaceAll(src, "{{id}}", idColumn[dialect])
	src = strings.ReplaceAll(src, "{{without_rowid}}", withoutRowID[dialect])
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Migrate brings the schema up to date. It is idempotent, and safe to run
// from two processes at once: all pending migrations run in one write
// transaction, under SQLite's write lock or a PostgreSQL advisory lock, so
// the second process waits and then finds nothing left to do. It records
// applied versions in schema_migrations, under the component "orders".
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fail("migrate", err)
	}
	err = s.write(ctx, func(tx *txn) error {
		if s.dialect == DialectPostgres {
			// CREATE TABLE IF NOT EXISTS itself races on PostgreSQL; the
			// lock is released at commit. The key is arbitrary but fixed.
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7243001)"); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			component  TEXT NOT NULL,
			version    INTEGER NOT NULL,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL,
			PRIMARY KEY (component, version)
		)`); err != nil {
			return err
		}
		var applied []int
		if err := tx.SelectContext(ctx, &applied, tx.Rebind("SELECT version FROM schema_migrations WHERE component = ?"), component); err != nil {
			return err
		}
		done := map[int]bool{}
		newest := 0
		for _, v := range applied {
			done[v] = true
			newest = max(newest, v)
		}
		if len(ms) > 0 && newest > ms[len(ms)-1].version {
			return orders.Errorf(orders.EINVALID, "the database schema (version %d) is newer than this orderbot (version %d); upgrade orderbot", newest, ms[len(ms)-1].version)
		}
		for _, m := range ms {
			if done[m.version] {
				continue
			}
			for _, st := range statements(m.sql, s.dialect) {
				if _, err := tx.ExecContext(ctx, st); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)"),
				component, m.version, m.name, micros(time.Now())); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fail("migrate", err)
	}
	s.prepare(ctx)
	return nil
}
