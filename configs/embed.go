// Package configs carries the shipped configuration files inside the binary,
// so that `orderbot chat` works from any directory: the documented default
// configuration, the demo catalog and the FAQ. Files given on the command
// line or in the configuration take precedence.
package configs

import _ "embed"

// DefaultConfig is orderbot.yaml as shipped.
//
//go:embed orderbot.yaml
var DefaultConfig []byte

// DemoCatalog is the demo shop's catalog.yaml.
//
//go:embed catalog.yaml
var DemoCatalog []byte

// FAQ is faq.yaml as shipped.
//
//go:embed faq.yaml
var FAQ []byte
