package sqlstore

// The pgx database/sql driver, registered as "pgx", for postgres:// URLs.
import _ "github.com/jackc/pgx/v5/stdlib"
