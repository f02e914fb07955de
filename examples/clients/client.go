// Calling Sluice over its Unix socket with Go's net/http (Go 1.18+, standard library only).
//
//	go run examples/clients/client.go [SOCKET]      (default /tmp/sluice.sock)
//
// A Client is safe for concurrent use and keeps a pool of keep-alive connections.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// Decision is the answer to a check or status request (200 allowed, 429 denied).
type Decision struct {
	Rule         string `json:"rule,omitempty"` // set in batch results
	Key          string `json:"key,omitempty"`  // set in batch results
	Allowed      bool   `json:"allowed"`
	Limit        int64  `json:"limit"`
	Remaining    int64  `json:"remaining"`
	ResetAfterMs int64  `json:"reset_after_ms"`
	RetryAfterMs int64  `json:"retry_after_ms"`
	DelayMs      int64  `json:"delay_ms"` // leaky_bucket: wait this long before proceeding
	ShadowDenied bool   `json:"shadow_denied,omitempty"`
}

// Batch is the answer to several checks decided together (all or nothing).
type Batch struct {
	Allowed bool       `json:"allowed"`
	Results []Decision `json:"results"`
}

// Check is one (rule, key, cost) question.
type Check struct {
	Rule string `json:"rule"`
	Key  string `json:"key"`
	Cost int64  `json:"cost"`
}

// APIError is a request Sluice refused (400 bad field, 404 unknown rule, 503 shedding, ...).
type APIError struct {
	Status  int
	Message string `json:"error"`
}

func (e *APIError) Error() string { return fmt.Sprintf("sluice: %d %s", e.Status, e.Message) }

type Client struct{ http *http.Client }

func NewClient(socket string) *Client {
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second, // below Sluice's 60 s idle timeout
	}
	return &Client{http: &http.Client{Transport: transport, Timeout: 500 * time.Millisecond}}
}

// do sends a request to the socket ("http://sluice" is a placeholder host) and decodes a
// 200/201/429 answer into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://sluice"+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	defer io.Copy(io.Discard, resp.Body) // drain, so the connection is reused
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated, http.StatusTooManyRequests:
		return json.NewDecoder(resp.Body).Decode(out)
	default:
		apiErr := &APIError{Status: resp.StatusCode}
		_ = json.NewDecoder(resp.Body).Decode(apiErr)
		return apiErr
	}
}

// Check decides and consumes `cost` for `key` under `rule`.
func (c *Client) Check(ctx context.Context, rule, key string, cost int64) (Decision, error) {
	var d Decision
	err := c.do(ctx, http.MethodPost, "/v1/check", Check{rule, key, cost}, &d)
	return d, err
}

// CheckAll decides several checks together; a denied batch consumes nothing.
func (c *Client) CheckAll(ctx context.Context, checks []Check) (Batch, error) {
	var b Batch
	err := c.do(ctx, http.MethodPost, "/v1/check", map[string][]Check{"checks": checks}, &b)
	return b, err
}

// Status is the answer Check would give, consuming nothing.
func (c *Client) Status(ctx context.Context, rule, key string, cost int64) (Decision, error) {
	q := url.Values{"rule": {rule}, "key": {key}, "cost": {fmt.Sprint(cost)}}
	var d Decision
	err := c.do(ctx, http.MethodGet, "/v1/status?"+q.Encode(), nil, &d)
	return d, err
}

// Reset forgets the key's state under the rule.
func (c *Client) Reset(ctx context.Context, rule, key string) error {
	var ignored struct{}
	return c.do(ctx, http.MethodPost, "/v1/reset", map[string]string{"rule": rule, "key": key}, &ignored)
}

// Allow is a typical call site: true to proceed. It waits out a leaky bucket's delay, and
// when Sluice cannot be reached it returns failOpen.
func (c *Client) Allow(ctx context.Context, rule, key string, failOpen bool) bool {
	d, err := c.Check(ctx, rule, key, 1)
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return false // a bad request (unknown rule, bad key): a bug to fix, not an outage
	} else if err != nil {
		return failOpen
	}
	if d.Allowed && d.DelayMs > 0 {
		time.Sleep(time.Duration(d.DelayMs) * time.Millisecond)
	}
	return d.Allowed
}

func main() {
	socket := "/tmp/sluice.sock"
	if len(os.Args) > 1 {
		socket = os.Args[1]
	}
	c := NewClient(socket)
	ctx := context.Background()
	for i := 1; i <= 6; i++ { // the default "login" rule: 5 per minute
		d, err := c.Check(ctx, "login", "bob", 1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%d allowed=%v remaining=%d retry_after_ms=%d\n", i, d.Allowed, d.Remaining, d.RetryAfterMs)
	}
	s, err := c.Status(ctx, "login", "bob", 0)
	fmt.Printf("status: %+v %v\n", s, err)
	b, err := c.CheckAll(ctx, []Check{{"default", "user-8", 1}, {"login", "user-8", 2}})
	fmt.Printf("batch: %+v %v\n", b, err)
	_, err = c.Check(ctx, "login", "bob", 6) // more than the rule can ever grant
	fmt.Println("error:", err)
	fmt.Println("reset:", c.Reset(ctx, "login", "bob"))
	fmt.Println("allow after reset:", c.Allow(ctx, "login", "bob", true))
}
