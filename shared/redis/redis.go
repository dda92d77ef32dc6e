// Package redis is the only code that speaks to Redis. It owns the connection settings and the
// small data structures the product keeps there: rate limits, cooldowns, quotas, failure
// back-off, caches and counters. Tablestore holds the truth; everything here may be lost
// (a flushed cache, a restarted instance) and the product must stay correct, only slower or
// briefly more lenient.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Config says where Redis is. Read it with ConfigFromEnv.
type Config struct {
	Addr     string // host:port
	Password string
	TLS      bool
	DB       int
	// Prefix is put in front of every key so that several deployments can share one server.
	Prefix string
}

// ConfigFromEnv reads REDIS_ADDR, REDIS_PASSWORD, REDIS_TLS ("true"/"1"), REDIS_DB and
// REDIS_PREFIX.
func ConfigFromEnv() (Config, error) {
	c := Config{Addr: os.Getenv("REDIS_ADDR"), Password: os.Getenv("REDIS_PASSWORD"), Prefix: os.Getenv("REDIS_PREFIX")}
	if c.Addr == "" {
		return c, errors.New("REDIS_ADDR is not set (host:port of the Redis server)")
	}
	if v := os.Getenv("REDIS_TLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("REDIS_TLS=%q: want true or false", v)
		}
		c.TLS = b
	}
	if v := os.Getenv("REDIS_DB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("REDIS_DB=%q: want a database number", v)
		}
		c.DB = n
	}
	return c, nil
}

// Client is a connection pool plus the key prefix.
type Client struct {
	rdb    *goredis.Client
	prefix string
}

// New returns a client; it does not dial until first use, so a function's cold start does not
// wait for Redis.
func New(cfg Config) *Client {
	opt := &goredis.Options{
		Addr:         cfg.Addr,
		Password:     cfg.Password,
		DB:           cfg.DB,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		// FC instances serve many requests at once (instanceConcurrency); a small pool per
		// instance keeps the server's connection count bounded when many instances run.
		PoolSize:     32,
		MinIdleConns: 0,
	}
	if cfg.TLS {
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &Client{rdb: goredis.NewClient(opt), prefix: cfg.Prefix}
}

// Ping checks the connection.
func (c *Client) Ping(ctx context.Context) error { return c.rdb.Ping(ctx).Err() }

// Close releases the pool.
func (c *Client) Close() error { return c.rdb.Close() }

// key prefixes k with the deployment prefix.
func (c *Client) key(k string) string { return c.prefix + k }

// Unavailable wraps a Redis failure so callers can decide to fail open or closed.
type Unavailable struct{ Err error }

func (e *Unavailable) Error() string { return "redis unavailable: " + e.Err.Error() }
func (e *Unavailable) Unwrap() error { return e.Err }

func wrap(err error) error {
	if err == nil || errors.Is(err, goredis.Nil) {
		return err
	}
	return &Unavailable{Err: err}
}
