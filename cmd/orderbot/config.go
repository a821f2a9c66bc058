package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"orderbot/configs"
	"orderbot/orders"
)

// Config is configs/orderbot.yaml. It is read here and only here; every
// package below receives plain values.
type Config struct {
	Database struct {
		URL string `yaml:"url"`
	} `yaml:"database"`
	Redis struct {
		URL         string        `yaml:"url"`
		Prefix      string        `yaml:"prefix"`
		SessionIdle time.Duration `yaml:"session_idle"`
		LeaseTTL    time.Duration `yaml:"lease_ttl"`
	} `yaml:"redis"`
	Catalog struct {
		File   string `yaml:"file"`
		Images string `yaml:"images"`
	} `yaml:"catalog"`
	FAQ struct {
		File string `yaml:"file"`
	} `yaml:"faq"`
	Dialog struct {
		DefaultLang string        `yaml:"default_lang"`
		PhoneRegion string        `yaml:"phone_region"`
		PageSize    int           `yaml:"page_size"`
		IdleReset   time.Duration `yaml:"idle_reset"`
		CartTTL     time.Duration `yaml:"cart_ttl"`
		MaxInput    int           `yaml:"max_input"`
		CatalogTTL  time.Duration `yaml:"catalog_ttl"`
	} `yaml:"dialog"`
	Approvals  approvalsConfig `yaml:"approvals"`
	Fulfilment struct {
		Chat  string   `yaml:"chat"`
		Staff []string `yaml:"staff"`
	} `yaml:"fulfilment"`
	Payments struct {
		TTL         time.Duration `yaml:"ttl"`
		ExpireEvery time.Duration `yaml:"expire_every"`
	} `yaml:"payments"`
	Hub struct {
		Workers    int           `yaml:"workers"`
		QueueLimit int           `yaml:"queue_limit"`
		Timeout    time.Duration `yaml:"timeout"`
	} `yaml:"hub"`
	Notifier struct {
		Interval   time.Duration `yaml:"interval"`
		Batch      int           `yaml:"batch"`
		MinBackoff time.Duration `yaml:"min_backoff"`
		MaxBackoff time.Duration `yaml:"max_backoff"`
		// MaxAttempts is how many failed deliveries park a notification.
		MaxAttempts int `yaml:"max_attempts"`
		// Lease is how long a replica holds the notifications it took.
		Lease time.Duration `yaml:"lease"`
	} `yaml:"notifier"`
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	HTTP struct {
		Addr string `yaml:"addr"`
		// DebugAddr serves Go's profiler (/debug/pprof/) when set.
		DebugAddr string `yaml:"debug_addr"`
	} `yaml:"http"`
	Telegram struct {
		PollTimeout     time.Duration `yaml:"poll_timeout"`
		RequestTimeout  time.Duration `yaml:"request_timeout"`
		PerChatInterval time.Duration `yaml:"per_chat_interval"`
		GlobalRate      int           `yaml:"global_rate"`
	} `yaml:"telegram"`
	Slack struct {
		RequestTimeout     time.Duration `yaml:"request_timeout"`
		PerChannelInterval time.Duration `yaml:"per_channel_interval"`
		GlobalRate         int           `yaml:"global_rate"`
	} `yaml:"slack"`

	logLevelSet bool // the level was chosen by the operator, not defaulted
}

// defaultConfigPath is read when it exists and no other file is named.
const defaultConfigPath = "configs/orderbot.yaml"

// loadConfig reads the shipped defaults, then the operator's file (path, or
// ORDERBOT_CONFIG, or ./configs/orderbot.yaml when present), then the
// environment.
func loadConfig(path string, env func(string) string) (*Config, error) {
	var c Config
	if err := decodeConfig(configs.DefaultConfig, &c); err != nil {
		return nil, fmt.Errorf("built-in configuration: %w", err)
	}
	if path == "" {
		path = env("ORDERBOT_CONFIG")
	}
	explicit := path != ""
	if !explicit {
		path = defaultConfigPath
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		var level struct {
			Log struct {
				Level string `yaml:"level"`
			} `yaml:"log"`
		}
		if err := decodeConfig(data, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		_ = yaml.Unmarshal(data, &level)
		c.logLevelSet = level.Log.Level != ""
	case explicit || !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	if v := env("ORDERBOT_DATABASE_URL"); v != "" {
		c.Database.URL = v
	}
	if v := env("ORDERBOT_REDIS_URL"); v != "" {
		c.Redis.URL = v
	}
	if v := env("ORDERBOT_HTTP_ADDR"); v != "" {
		c.HTTP.Addr = v
	}
	if v := env("ORDERBOT_DEBUG_ADDR"); v != "" {
		c.HTTP.DebugAddr = v
	}
	if v := env("ORDERBOT_LOG_LEVEL"); v != "" {
		c.Log.Level, c.logLevelSet = v, true
	}
	return &c, c.validate()
}

// approvalsConfig is the approvals section: which company-account orders
// need approval and by whom.
type approvalsConfig struct {
	RemindAfter time.Duration       `yaml:"remind_after"`
	RemindEvery time.Duration       `yaml:"remind_every"`
	Channels    []string            `yaml:"channels"`
	Managers    map[string]string   `yaml:"managers"`
	Groups      map[string][]string `yaml:"groups"`
	Rules       []struct {
		Name        string   `yaml:"name"`
		TotalOver   string   `yaml:"total_over"`
		Categories  []string `yaml:"categories"`
		CostCentres []string `yaml:"cost_centres"`
		Requesters  []string `yaml:"requesters"`
		Approvers   []string `yaml:"approvers"`
	} `yaml:"rules"`
}

// rules converts the section for the order core, checked; nil when no rule
// is configured.
func (a approvalsConfig) rules() (*orders.ApprovalRules, error) {
	if len(a.Rules) == 0 {
		return nil, nil
	}
	r := &orders.ApprovalRules{Channels: a.Channels, Managers: a.Managers, Groups: a.Groups}
	for i, c := range a.Rules {
		rule := orders.ApprovalRule{Name: c.Name, Categories: c.Categories, CostCentres: c.CostCentres, Requesters: c.Requesters, Approvers: c.Approvers}
		if c.TotalOver != "" {
			m, err := orders.ParseMoney(c.TotalOver)
			if err != nil {
				return nil, fmt.Errorf("approvals.rules[%d].total_over: %w", i, err)
			}
			rule.TotalOver = &m
		}
		r.Rules = append(r.Rules, rule)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("approvals: %w", err)
	}
	if a.RemindAfter <= 0 || a.RemindEvery <= 0 {
		return nil, fmt.Errorf("approvals: remind_after and remind_every must be positive")
	}
	return r, nil
}

// fulfilment is the fulfilment desk for the order core, checked; nil when
// none is configured.
func (c *Config) fulfilment() (*orders.Fulfilment, error) {
	f := c.Fulfilment
	if f.Chat == "" && len(f.Staff) == 0 {
		return nil, nil
	}
	d := &orders.Fulfilment{Chat: f.Chat, Staff: f.Staff}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("fulfilment: %w", err)
	}
	return d, nil
}

// imageDir is where product images given as relative paths are read from:
// catalog.images, else the catalog file's directory, else the working
// directory.
func (c *Config) imageDir() string {
	switch {
	case c.Catalog.Images != "":
		return c.Catalog.Images
	case c.Catalog.File != "":
		return filepath.Dir(c.Catalog.File)
	}
	return "."
}

func decodeConfig(data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file configures nothing.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func (c *Config) validate() error {
	var problems []string
	if c.Database.URL == "" {
		problems = append(problems, "database.url is empty")
	}
	if c.Redis.URL != "" && (c.Redis.SessionIdle < time.Hour || c.Redis.LeaseTTL < time.Second) {
		problems = append(problems, "redis.session_idle must be an hour or more and redis.lease_ttl a second or more")
	}
	if l := c.Dialog.DefaultLang; l != "en" && l != "zh" {
		problems = append(problems, fmt.Sprintf("dialog.default_lang %q: use en or zh", l))
	}
	if c.Dialog.PageSize < 1 || c.Dialog.PageSize > 20 {
		problems = append(problems, "dialog.page_size must be between 1 and 20")
	}
	if c.Hub.Workers < 0 || c.Hub.QueueLimit < 1 {
		problems = append(problems, "hub.workers must be 0 or more and hub.queue_limit 1 or more")
	}
	if c.Notifier.Interval <= 0 || c.Notifier.Batch < 1 {
		problems = append(problems, "notifier.interval and notifier.batch must be positive")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, fmt.Sprintf("log.level %q: use debug, info, warn or error", c.Log.Level))
	}
	if c.Payments.TTL < time.Second || c.Payments.ExpireEvery <= 0 || c.Payments.ExpireEvery > c.Payments.TTL {
		problems = append(problems, "payments: ttl must be 1s or more and expire_every positive and at most ttl")
	}
	if _, err := c.Approvals.rules(); err != nil {
		problems = append(problems, err.Error())
	}
	if _, err := c.fulfilment(); err != nil {
		problems = append(problems, err.Error())
	}
	if c.HTTP.Addr == "" {
		problems = append(problems, "http.addr is empty")
	}
	if t := c.Telegram; t.PollTimeout < time.Second || t.PollTimeout > 10*time.Minute || t.RequestTimeout <= 0 || t.PerChatInterval < 0 || t.GlobalRate < 1 {
		problems = append(problems, "telegram: poll_timeout must be 1s to 10m, request_timeout positive, global_rate 1 or more")
	}
	if sl := c.Slack; sl.RequestTimeout <= 0 || sl.PerChannelInterval < 0 || sl.GlobalRate < 1 {
		problems = append(problems, "slack: request_timeout must be positive and global_rate 1 or more")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		problems = append(problems, fmt.Sprintf("log.format %q: use text or json", c.Log.Format))
	}
	if len(problems) > 0 {
		return fmt.Errorf("configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}
