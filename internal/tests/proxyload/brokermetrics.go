package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// brokerAddedLatency reads the broker's own ztbroker_proxy_added_latency_seconds
// histogram for purpose and returns the bucket bounds holding its median
// and 99th percentile: what the broker measured of its own time, upstream
// excluded, over the whole run (warm-ups included).
func brokerAddedLatency(hc *http.Client, broker, purpose string) (string, error) {
	resp, err := hc.Get(strings.TrimRight(broker, "/") + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	type bucket struct {
		le    float64
		count float64
	}
	var buckets []bucket
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "ztbroker_proxy_added_latency_seconds_bucket{") || !strings.Contains(line, `purpose="`+purpose+`"`) {
			continue
		}
		i := strings.Index(line, `le="`)
		j := strings.Index(line[i+4:], `"`)
		le, err1 := strconv.ParseFloat(line[i+4:i+4+j], 64)
		v, err2 := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err1 != nil || err2 != nil {
			continue
		}
		buckets = append(buckets, bucket{le, v})
	}
	if len(buckets) == 0 {
		return "", fmt.Errorf("no added-latency histogram for purpose %q", purpose)
	}
	total := buckets[len(buckets)-1].count
	at := func(q float64) string {
		for _, b := range buckets {
			if b.count >= q*total {
				if b.le > 1e300 {
					return "> 100 ms"
				}
				return fmt.Sprintf("≤ %g ms", b.le*1000)
			}
		}
		return "?"
	}
	return fmt.Sprintf("%.0f calls; p50 %s, p99 %s", total, at(0.5), at(0.99)), nil
}
