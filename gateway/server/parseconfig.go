package server

import (
	"context"
	"fmt"

	"github.com/refract-gateway/refract/gateway/config"
	"github.com/refract-gateway/refract/gateway/configsource"
)

// ReadConfig reads the config at location (see configsource.Open) and
// parses and validates it as a reload would.
func ReadConfig(ctx context.Context, location string) (*config.Config, configsource.Data, error) {
	src, err := configsource.Open(location)
	if err != nil {
		return nil, configsource.Data{}, err
	}
	defer src.Close()
	data, err := src.Read(ctx)
	if err != nil {
		return nil, configsource.Data{}, err
	}
	cfg, err := parseConfigData(data, nil)
	return cfg, data, err
}

// parseConfigData is the one validation every config goes through, at
// start and on every reload: strict parse, defaults, override (command
// line flags), then the whole config validated again.
func parseConfigData(data configsource.Data, override func(*config.Config)) (*config.Config, error) {
	cfg, err := config.Parse(data.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", data.Source, err)
	}
	if override != nil {
		override(cfg)
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", data.Source, err)
		}
	}
	return cfg, nil
}
