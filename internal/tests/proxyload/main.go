package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "proxyload:", err)
		os.Exit(1)
	}
}

type flags struct {
	broker, emulator, purpose, network, member string
	baseline                                   string
	clients                                    []int
	duration, warmup                           time.Duration
	rounds                                     int
	pids                                       map[string]int
}

func parseFlags() (*flags, error) {
	f := &flags{pids: map[string]int{}}
	flag.StringVar(&f.broker, "broker", "http://127.0.0.1:8080", "broker HTTP root")
	flag.StringVar(&f.baseline, "baseline", "", "HTTP root of a second broker (an older build on the same database and emulator) to measure beside the first")
	flag.StringVar(&f.emulator, "emulator", "http://127.0.0.1:8089", "emulator root")
	flag.StringVar(&f.purpose, "purpose", "bench-scoped", "proxy purpose to issue for")
	flag.StringVar(&f.network, "network", "8056c2e21c000001", "network the calls name")
	flag.StringVar(&f.member, "member", "deadbeef00", "member the updates change")
	clients := flag.String("clients", "1,8", "concurrent clients, comma-separated")
	flag.DurationVar(&f.duration, "duration", 5*time.Second, "length of each scenario run")
	flag.DurationVar(&f.warmup, "warmup", time.Second, "calls before measuring, per scenario")
	flag.IntVar(&f.rounds, "rounds", 3, "rounds over every scenario")
	pids := flag.String("pids", "", "processes whose CPU to report, name=pid,... (broker=123,emulator=456,postgres=<postmaster pid>)")
	flag.Parse()
	for _, c := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-clients: %q", c)
		}
		f.clients = append(f.clients, n)
	}
	if *pids != "" {
		for _, kv := range strings.Split(*pids, ",") {
			name, pid, ok := strings.Cut(kv, "=")
			n, err := strconv.Atoi(pid)
			if !ok || err != nil {
				return nil, fmt.Errorf("-pids: %q", kv)
			}
			f.pids[name] = n
		}
	}
	return f, nil
}

func run() error {
	f, err := parseFlags()
	if err != nil {
		return err
	}
	adminToken, apiKey := os.Getenv("ZTBROKER_EMULATOR_ADMIN_TOKEN"), os.Getenv("BROKER_API_KEY")
	if adminToken == "" || apiKey == "" {
		return fmt.Errorf("set ZTBROKER_EMULATOR_ADMIN_TOKEN and BROKER_API_KEY")
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 128}, Timeout: 30 * time.Second}
	cred, base, scheme, err := issue(hc, f.broker, apiKey, f.purpose)
	if err != nil {
		return err
	}
	targets := map[string]target{
		"direct": {base: strings.TrimRight(f.emulator, "/"), auth: "Bearer " + adminToken},
		"proxy":  {base: base, auth: scheme + " " + cred},
	}
	vias := []string{"direct", "proxy"}
	if f.baseline != "" {
		cred, base, scheme, err := issue(hc, f.baseline, apiKey, f.purpose)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		targets["before"] = target{base: base, auth: scheme + " " + cred}
		vias = []string{"direct", "before", "proxy"}
	}
	all := scenarios(f.network, f.member, vias)
	fmt.Printf("proxyload: %d rounds of %s per scenario and client count; load average before: %s\n\n", f.rounds, f.duration, loadAvg())
	for _, c := range f.clients {
		results := make([]*sample, len(all))
		for i := range results {
			results[i] = &sample{}
		}
		for range f.rounds {
			for i, s := range all {
				res, err := measure(hc, s, targets[s.via], c, f)
				if err != nil {
					return fmt.Errorf("%s %s: %w", s.via, s.name, err)
				}
				results[i].add(res)
			}
		}
		report(c, all, results)
	}
	if added, err := brokerAddedLatency(hc, f.broker, f.purpose); err == nil {
		fmt.Printf("the broker's own added-latency histogram (ztbroker_proxy_added_latency_seconds): %s\n", added)
	} else {
		fmt.Printf("the broker's added-latency histogram: %v\n", err)
	}
	if f.baseline != "" {
		if added, err := brokerAddedLatency(hc, f.baseline, f.purpose); err == nil {
			fmt.Printf("the baseline broker's added-latency histogram: %s\n", added)
		}
	}
	fmt.Printf("load average after: %s\n", loadAvg())
	return nil
}

// issue gets a broker credential for the purpose over REST.
func issue(hc *http.Client, broker, apiKey, purpose string) (cred, base, scheme string, err error) {
	req, _ := http.NewRequest(http.MethodPost, strings.TrimRight(broker, "/")+"/v1/purposes/"+purpose+"/tokens",
		bytes.NewReader([]byte(`{"ttl":"3600s","labels":{"bench":"proxyload"}}`)))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := hc.Do(req)
	if err != nil {
		return "", "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", "", "", fmt.Errorf("issue: HTTP %d: %s", resp.StatusCode, b)
	}
	var out struct {
		Token      string `json:"token"`
		APIBaseURL string `json:"api_base_url"`
		AuthScheme string `json:"auth_scheme"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return "", "", "", err
	}
	return out.Token, out.APIBaseURL, out.AuthScheme, nil
}

// measure runs s with c clients: a warm-up, then the timed run.
func measure(hc *http.Client, s scenario, t target, c int, f *flags) (*sample, error) {
	if _, err := drive(hc, s, t, c, f.warmup, nil); err != nil {
		return nil, err
	}
	return drive(hc, s, t, c, f.duration, f.pids)
}

func drive(hc *http.Client, s scenario, t target, c int, d time.Duration, pids map[string]int) (*sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	total := &sample{}
	var firstErr error
	pids = withSelf(pids)
	cpu0 := cpuSnapshot(pids)
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := &sample{}
			for ctx.Err() == nil {
				req, err := s.request(t, seq.Add(1))
				if err != nil {
					local.errors++
					continue
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat := time.Since(t0)
				switch {
				case err != nil || resp.StatusCode != http.StatusOK:
					local.errors++
					mu.Lock()
					if firstErr == nil && ctx.Err() == nil {
						if err == nil {
							err = fmt.Errorf("HTTP %d", resp.StatusCode)
						}
						firstErr = err
					}
					mu.Unlock()
				default:
					local.calls++
					local.lat = append(local.lat, lat)
				}
			}
			mu.Lock()
			total.add(local)
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	cpu1 := cpuSnapshot(pids)
	total.cpu = map[string]time.Duration{}
	for k, v := range cpu1 {
		total.cpu[k] = v - cpu0[k]
	}
	if total.calls == 0 && firstErr != nil {
		return nil, firstErr
	}
	return total, nil
}

func report(c int, all []scenario, res []*sample) {
	fmt.Printf("### %d client(s)\n\n", c)
	fmt.Println("| call | via | calls/s | p50 ms | p99 ms | added p50 ms | throughput vs direct | errors | CPU µs/call |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	direct := map[string]*sample{}
	for i, s := range all {
		if s.via == "direct" {
			direct[s.name] = res[i]
		}
	}
	for i, s := range all {
		r := res[i]
		added, ratio := "", ""
		if d := direct[s.name]; s.via != "direct" && d != nil {
			added = ms(r.quantile(0.5) - d.quantile(0.5))
			if d.rate() > 0 {
				ratio = fmt.Sprintf("%.0f%%", 100*r.rate()/d.rate())
			}
		}
		var cpu []string
		for _, name := range []string{"broker", "emulator", "postgres", "loadgen"} {
			key := name
			if name == "broker" && s.via == "before" {
				// The baseline broker serves the "before" rows.
				key = "broker-before"
			}
			if v, ok := r.cpu[key]; ok && r.calls > 0 {
				cpu = append(cpu, fmt.Sprintf("%s %.0f", name, float64(v.Microseconds())/float64(r.calls)))
			}
		}
		fmt.Printf("| %s | %s | %.0f | %s | %s | %s | %s | %d | %s |\n",
			s.name, s.via, r.rate(), ms(r.quantile(0.5)), ms(r.quantile(0.99)), added, ratio, r.errors, strings.Join(cpu, ", "))
	}
	fmt.Println()
}
