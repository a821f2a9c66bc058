// Package orders is the order core of orderbot: the catalog, money, carts turned
// into drafts, orders and their status lifecycle, and the notifications every
// status change leaves in the outbox. It knows nothing of SQL or of chat
// channels; orders/sqlstore persists it.
package orders
