// Command auth is the auth function: sign-up with an emailed code, login, rotating refresh
// tokens, logout and password reset under /api/v1/auth/ (shared/accounts). It is the only
// function holding JWT_SIGNING_KEY, so the only one that can mint access tokens.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"time"

	"vodfc.dev/vodfc/accounts"
	"vodfc.dev/vodfc/auth"
	"vodfc.dev/vodfc/httpapi"
	"vodfc.dev/vodfc/mail"
	"vodfc.dev/vodfc/redis"
	"vodfc.dev/vodfc/runtime"
	"vodfc.dev/vodfc/tablestore"
)

// Config is the auth function's configuration, all of it from the environment.
type Config struct {
	Tablestore tablestore.Config // OTS_ENDPOINT, OTS_INSTANCE
	Redis      redis.Config      // REDIS_ADDR, REDIS_PASSWORD, REDIS_TLS
	Mail       mail.Config       // SMTP_ADDR, SMTP_USERNAME, SMTP_PASSWORD, SMTP_TLS, MAIL_FROM
	Signer     *auth.Signer      // JWT_SIGNING_KEY, JWT_ISSUER, JWT_AUDIENCE
	Codes      *auth.CodeHasher  // derived from JWT_SIGNING_KEY
	SessionKey []byte            // derived from JWT_SIGNING_KEY
	// AdminEmails (ADMIN_EMAILS, comma-separated) get the admin role in their tokens.
	AdminEmails []string
	// ProxyHops (TRUSTED_PROXY_HOPS) says which X-Forwarded-For entry is the client:
	// 1 on FC's custom runtime (its front end appends the client), 0 on go1 and Lambda (the
	// event carries the source address); set 2 behind a CDN that appends as well.
	ProxyHops int
	// HashConcurrency (PASSWORD_HASH_CONCURRENCY) bounds argon2id hashes running at once, each
	// holding 19 MiB and a core; GOMAXPROCS by default, which follows the instance's vCPU quota.
	HashConcurrency int
}

// loadConfig reads the environment and reports every problem at once.
func loadConfig(getenv func(string) string) (Config, error) {
	var cfg Config
	var errs []error
	var err error
	if cfg.Tablestore, err = tablestore.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Redis, err = redis.ConfigFromEnv(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Mail, err = mail.LoadConfig(getenv); err != nil {
		errs = append(errs, err)
	}
	// FC stops an invocation at its timeout (30 s for auth); a hung mail server must fail the
	// request with a clear 503 well before that.
	cfg.Mail.Timeout = 10 * time.Second
	if cfg.Signer, err = auth.LoadSigner(getenv); err != nil {
		errs = append(errs, err)
	} else {
		// The email-code and refresh-child keys are derived from the signing key, which
		// LoadSigner just accepted.
		if cfg.Codes, err = auth.LoadCodeHasher(getenv); err != nil {
			errs = append(errs, err)
		}
		key, _ := auth.ParseSigningKey(getenv(auth.EnvSigningKey))
		if cfg.SessionKey, err = accounts.DeriveSessionKey(key); err != nil {
			errs = append(errs, err)
		}
	}
	cfg.AdminEmails = accounts.ParseAdminEmails(getenv("ADMIN_EMAILS"))
	if cfg.ProxyHops, err = httpapi.ProxyHopsFromEnv(getenv); err != nil {
		errs = append(errs, err)
	}
	cfg.HashConcurrency = goruntime.GOMAXPROCS(0)
	if v := getenv("PASSWORD_HASH_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			errs = append(errs, fmt.Errorf("PASSWORD_HASH_CONCURRENCY=%q: want 1 to 64", v))
		}
		cfg.HashConcurrency = n
	}
	return cfg, errors.Join(errs...)
}

// newHandler wires the configuration into the auth routes. It connects to nothing yet: the
// first request dials Tablestore, Redis and the mail server.
func newHandler(cfg Config) (*httpapi.Router, func(), error) {
	db, err := tablestore.New(cfg.Tablestore)
	if err != nil {
		return nil, nil, err
	}
	sender, err := mail.New(cfg.Mail)
	if err != nil {
		return nil, nil, err
	}
	hasher, err := auth.NewPasswordHasher(auth.DefaultArgon2, cfg.HashConcurrency)
	if err != nil {
		return nil, nil, err
	}
	r := httpapi.NewRouter()
	r.Scope("/api/v1/auth/*") // what s.yaml's domain routes here
	rc := redis.New(cfg.Redis)
	a, err := accounts.NewAuth(accounts.AuthConfig{DB: db, Redis: rc, Mail: sender, Signer: cfg.Signer, Codes: cfg.Codes,
		Passwords: hasher, SessionKey: cfg.SessionKey, AdminEmails: cfg.AdminEmails, ProxyHops: cfg.ProxyHops})
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	a.Routes(r)
	return r, func() { rc.Close() }, nil
}

func main() {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "auth: configuration:\n%v\n", err)
		os.Exit(1)
	}
	h, closeClients, err := newHandler(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "auth: %v\n", err)
		os.Exit(1)
	}
	runtime.HTTP(h, runtime.OnPreStop(func(ctx context.Context) { closeClients() }))
}
