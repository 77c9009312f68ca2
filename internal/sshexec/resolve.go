package sshexec

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"
)

// resolveCache looks host names up through a Resolver and keeps the answers
// for a TTL. Failed lookups are not kept. Safe for concurrent use.
type resolveCache struct {
	r       Resolver
	ttl     time.Duration // <0: no caching
	timeout time.Duration // bound of one lookup
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]resolved
}

type resolved struct {
	addrs   []string
	expires time.Time
}

func newResolveCache(cfg *Config) *resolveCache {
	return &resolveCache{
		r:       cfg.Resolver,
		ttl:     cfg.ResolveTTL,
		timeout: cfg.ConnectTimeout,
		log:     cfg.Logger,
		now:     time.Now,
		entries: make(map[string]resolved),
	}
}

// addrs returns the IP addresses to try for h, in order: h.Host itself if it
// is an IP literal (no lookup), else its looked-up addresses, then the
// fallback addresses. A lookup failure is an error only when there is no
// fallback address.
func (c *resolveCache) addrs(ctx context.Context, h Host) ([]string, error) {
	var out []string
	if ip := net.ParseIP(h.Host); ip != nil {
		out = append(out, h.Host)
	} else {
		looked, err := c.lookup(ctx, h.Host)
		switch {
		case err != nil && len(h.Addresses) == 0:
			return nil, err
		case err != nil:
			c.log.Info("ssh: host name does not resolve; using the fallback addresses",
				"host", h.Name, "name", h.Host, "err", err, "fallback", h.Addresses)
		}
		out = append(out, looked...)
	}
	for _, a := range h.Addresses {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// lookup returns name's addresses, from the cache while they are fresh.
func (c *resolveCache) lookup(ctx context.Context, name string) ([]string, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.addrs, nil
	}
	lctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	addrs, err := c.r.LookupHost(lctx, name)
	if err == nil && len(addrs) == 0 {
		err = fmt.Errorf("no addresses")
	}
	if err != nil {
		return nil, fmt.Errorf("lookup %s: %w", name, err)
	}
	if c.ttl > 0 {
		c.mu.Lock()
		c.entries[name] = resolved{addrs: addrs, expires: now.Add(c.ttl)}
		c.mu.Unlock()
	}
	return addrs, nil
}

// forget drops name's cached addresses, so that the next dial looks it up
// afresh (after a failed connect: the host may have moved).
func (c *resolveCache) forget(name string) {
	c.mu.Lock()
	delete(c.entries, name)
	c.mu.Unlock()
}
