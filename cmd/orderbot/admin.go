package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"orderbot/orders"
)

func runCatalog(ctx context.Context, cfg *Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: catalog takes import FILE or list", errUsage)
	}
	switch args[0] {
	case "import":
		pos, err := parseArgs(flag.NewFlagSet("catalog import", flag.ContinueOnError), args[1:], 1)
		if err != nil {
			return err
		}
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		c, err := orders.ParseCatalog(f)
		if err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		rep, err := a.svc.ImportCatalog(ctx, c)
		if err != nil {
			return err
		}
		logger.Info("catalog imported", "products_added", rep.ProductsAdded, "products_updated", rep.ProductsUpdated)
		printReport(stdout, rep)
		return nil
	case "list":
		if _, err := parseArgs(flag.NewFlagSet("catalog list", flag.ContinueOnError), args[1:], 0); err != nil {
			return err
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		c, err := a.svc.Catalog(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CATEGORY\tPRODUCT\tVARIANT\tNAME\tPRICE\tSTOCK\tACTIVE")
		for _, p := range c.Products {
			for _, v := range p.Variants {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\n", p.CategoryID, p.SKU, v.SKU,
					p.Name.In("en")+" / "+v.Name.In("en"), v.Price, v.Stock, p.Active)
			}
		}
		return tw.Flush()
	default:
		return fmt.Errorf("%w: unknown catalog command %q", errUsage, args[0])
	}
}

func printReport(w io.Writer, r orders.ImportReport) {
	if !r.Changed() {
		fmt.Fprintln(w, "catalog unchanged")
		return
	}
	fmt.Fprintf(w, "categories: %d added, %d updated\n", r.CategoriesAdded, r.CategoriesUpdated)
	fmt.Fprintf(w, "products:   %d added, %d updated, %d deactivated\n", r.ProductsAdded, r.ProductsUpdated, r.ProductsDeactivated)
	fmt.Fprintf(w, "variants:   %d added, %d updated, %d removed\n", r.VariantsAdded, r.VariantsUpdated, r.VariantsRemoved)
}

func runOrders(ctx context.Context, cfg *Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: orders takes list, show or advance", errUsage)
	}
	switch args[0] {
	case "list":
		fs := flag.NewFlagSet("orders list", flag.ContinueOnError)
		status := fs.String("status", "", "only orders in this status")
		limit := fs.Int("limit", 100, "at most this many orders")
		if _, err := parseArgs(fs, args[1:], 0); err != nil {
			return err
		}
		var f orders.Filter
		if *status != "" {
			st, err := orders.ParseStatus(*status)
			if err != nil {
				return err
			}
			f.Status = st
		}
		if *limit < 1 || *limit > 1000 {
			return fmt.Errorf("%w: --limit takes 1 to 1000", errUsage)
		}
		f.Limit = *limit
		a, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		list, err := a.svc.Orders(ctx, f)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NUMBER\tSTATUS\tTOTAL\tITEMS\tCREATED\tCHANNEL")
		for _, o := range list {
			items := 0
			for _, l := range o.Lines {
				items += l.Quantity
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", o.Number, o.Status, o.Total, items,
				o.CreatedAt.UTC().Format("2006-01-02 15:04"), o.Customer.Channel)
		}
		return tw.Flush()
	case "show":
		pos, err := parseArgs(flag.NewFlagSet("orders show", flag.ContinueOnError), args[1:], 1)
		if err != nil {
			return err
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		o, err := a.svc.Order(ctx, pos[0])
		if err != nil {
			return err
		}
		printOrder(stdout, o)
		return nil
	case "advance":
		fs := flag.NewFlagSet("orders advance", flag.ContinueOnError)
		note := fs.String("note", "", "a note kept in the history and shown to the customer")
		tracking := fs.String("tracking", "", "the parcel's tracking code")
		pos, err := parseArgs(fs, args[1:], 2)
		if err != nil {
			return err
		}
		to, err := orders.ParseStatus(pos[1])
		if err != nil {
			return err
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		o, err := a.svc.Advance(ctx, pos[0], orders.Transition{To: to, Actor: "operator", Note: *note, Tracking: *tracking})
		if err != nil {
			return err
		}
		logger.Info("order advanced", "order", o.Number, "status", string(o.Status))
		fmt.Fprintf(stdout, "%s is now %s; the customer will be notified\n", o.Number, o.Status)
		return nil
	case "approve", "reject":
		fs := flag.NewFlagSet("orders "+args[0], flag.ContinueOnError)
		as := fs.String("as", "", "the approver deciding (their user id, as in the approval rules)")
		note := fs.String("note", "", "a note kept in the history; the reason, required to reject")
		pos, err := parseArgs(fs, args[1:], 1)
		if err != nil {
			return err
		}
		if *as == "" {
			return fmt.Errorf("%w: --as names the approver deciding", errUsage)
		}
		a, err := openApp(ctx, cfg)
		if err != nil {
			return err
		}
		defer a.Close()
		o, err := a.svc.Decide(ctx, pos[0], *as, args[0] == "approve", *note)
		if err != nil {
			return err
		}
		logger.Info("order decided", "order", o.Number, "status", string(o.Status))
		fmt.Fprintf(stdout, "%s is now %s; the customer will be notified\n", o.Number, o.Status)
		return nil
	default:
		return fmt.Errorf("%w: unknown orders command %q", errUsage, args[0])
	}
}

// printOrder shows an order to an operator. The address and phone are the
// operator's to see; they never go to the logs.
func printOrder(w io.Writer, o orders.Order) {
	fmt.Fprintf(w, "Order %s\nStatus:   %s\nCustomer: %s %s (%s)\nContact:  %s, %s\n", o.Number, o.Status,
		o.Customer.Channel, o.Customer.User, o.Customer.Lang, o.ContactName, o.Phone)
	if o.Address != "" {
		fmt.Fprintf(w, "Address:  %s\n", o.Address)
	}
	fmt.Fprintf(w, "Payment:  %s\n", o.Payment)
	if o.CostCentre != "" {
		fmt.Fprintf(w, "Cost centre: %s\n", o.CostCentre)
	}
	if o.Reason != "" {
		fmt.Fprintf(w, "Reason:   %s\n", o.Reason)
	}
	for _, a := range o.Approvals {
		fmt.Fprintf(w, "Approver: %s (%s)\n", a.Approver, a.Rule)
	}
	if o.Tracking != "" {
		fmt.Fprintf(w, "Tracking: %s\n", o.Tracking)
	}
	fmt.Fprintln(w, "Lines:")
	for _, l := range o.Lines {
		sub, _ := l.UnitPrice.Mul(l.Quantity)
		fmt.Fprintf(w, "  %-14s %-40s %3d × %-10s %s\n", l.VariantSKU,
			strings.TrimSpace(l.ProductName.In("en")+" / "+l.VariantName.In("en")), l.Quantity, l.UnitPrice, sub)
	}
	fmt.Fprintf(w, "Total:    %s\nHistory:\n", o.Total)
	for _, h := range o.History {
		from := string(h.From)
		if from == "" {
			from = "(placed)"
		}
		line := fmt.Sprintf("  %s  %s → %s  by %s", h.At.UTC().Format("2006-01-02 15:04:05"), from, h.To, h.Actor)
		if h.Note != "" {
			line += "  — " + h.Note
		}
		fmt.Fprintln(w, line)
	}
}
