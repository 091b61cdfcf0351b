package chaos

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// brokerFailover kills -9 a broker of the cluster: on even faults the active KRaft
// controller (a controller failover; its node is a broker too), on odd ones the leader of one
// of the scenario's partitions (each in turn). It waits for the new leader or controller, restarts
// the node on its ports, waits until every replica of the scenario's topics is in sync again
// (so that the next fault never takes a second replica of a partition), and notes how
// Kafka's intake of lines dipped and recovered meanwhile.
func brokerFailover(ctx context.Context, p *pipeline, _ size, i int) error {
	c := p.srv.cluster
	topic, part := p.topics()[(i/2)%2], int32((i/4)%partitions)
	var victim int32
	var role string
	var err error
	leader := i%2 == 1
	if leader {
		victim, err = c.Leader(topic, part)
		role = fmt.Sprintf("leader of %s/%d", topic, part)
	} else {
		victim, err = c.Controller()
		role = "active controller"
	}
	if err != nil {
		return err
	}
	watch := p.watchIntake()
	killed := time.Now()
	if err := c.Node(victim).Kill(); err != nil {
		return err
	}
	var next int32
	if leader {
		next, err = c.WaitLeader(topic, part, victim, time.Minute)
	} else {
		next, err = waitController(ctx, p, victim)
	}
	if err != nil {
		return err
	}
	elected := time.Since(killed)
	if err := c.Node(victim).Start(); err != nil {
		return err
	}
	back := time.Since(killed)
	for _, tp := range p.topics() {
		for pt := range int32(partitions) {
			if err := c.WaitISR(tp, pt, 2*time.Minute); err != nil {
				return err
			}
		}
	}
	inSync := time.Since(killed)
	acked, consumed := watch.stop(killed)
	p.notes = append(p.notes, fmt.Sprintf("fault %d: node %d (%s) killed; node %d took over after %s; node %d up again after %s, every replica in sync after %s; "+
		"lines acknowledged to logagent: %s; lines read back by a consumer: %s",
		i+1, victim, role, next, elected.Round(10*time.Millisecond), victim, back.Round(10*time.Millisecond), inSync.Round(10*time.Millisecond),
		acked, consumed))
	return nil
}

func waitController(ctx context.Context, p *pipeline, not int32) (int32, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		id, err := p.srv.cluster.Controller()
		if err == nil && id > 0 && id != not {
			return id, nil
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("no controller but %d after a minute (%d, %v)", not, id, err)
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// intakeWatch samples, every 100 ms, the lines written, the records Kafka has acknowledged to
// logagent (its logagent_records_sent_total) and the distinct lines a consumer read back,
// from before a fault until both have caught up.
type intakeWatch struct {
	p       *pipeline
	mu      sync.Mutex
	samples []intakeSample
	done    chan struct{}
	stopped chan struct{}
}

type intakeSample struct {
	at                       time.Time
	written, acked, consumed int
}

func (p *pipeline) watchIntake() *intakeWatch {
	w := &intakeWatch{p: p, done: make(chan struct{}), stopped: make(chan struct{})}
	w.sample()
	go func() {
		defer close(w.stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.sample()
			}
		}
	}()
	return w
}

func (w *intakeWatch) sample() {
	s := intakeSample{at: time.Now(), written: int(w.p.w.written.Load())}
	s.acked = int(metricSum(w.p.agentAddr, "logagent_records_sent_total"))
	if s.acked < 0 { // not scraped: the last sample's
		w.mu.Lock()
		if n := len(w.samples); n > 0 {
			s.acked = w.samples[n-1].acked
		}
		w.mu.Unlock()
	}
	_, s.consumed, _ = w.p.kr.counts()
	w.mu.Lock()
	w.samples = append(w.samples, s)
	w.mu.Unlock()
}

// stop waits (at most a minute) until every line written before the kill has been
// acknowledged and read back, stops sampling, and describes both series.
func (w *intakeWatch) stop(killed time.Time) (acked, consumed string) {
	getAcked := func(s intakeSample) int { return s.acked }
	getConsumed := func(s intakeSample) int { return s.consumed }
	w.mu.Lock()
	before := w.samples[0].written
	w.mu.Unlock()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		last := w.samples[len(w.samples)-1]
		w.mu.Unlock()
		if last.acked >= before && last.consumed >= before {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(w.done)
	<-w.stopped
	return w.describe(killed, getAcked), w.describe(killed, getConsumed)
}

// describe gives, for one series: the longest time it did not grow while lines waited, its
// lowest rate over 1 s while lines were written, when every line written before the kill was
// in it, and its lines per second after the kill.
func (w *intakeWatch) describe(killed time.Time, get func(intakeSample) int) string {
	ss := w.samples
	before := ss[0].written
	var stall time.Duration
	minRate := -1
	drained := "more than a minute"
	var stallFrom time.Time
	for j, s := range ss {
		if j > 0 && get(s) == get(ss[j-1]) && s.written > get(s) {
			if stallFrom.IsZero() {
				stallFrom = ss[j-1].at
			}
			stall = max(stall, s.at.Sub(stallFrom))
		} else {
			stallFrom = time.Time{}
		}
		if drained == "more than a minute" && get(s) >= before {
			drained = max(0, s.at.Sub(killed)).Round(10 * time.Millisecond).String()
		}
		// the 1 s window ending at s, while lines were written (the rate drops to 0 once
		// the writer is done)
		for k := j - 1; k >= 0; k-- {
			if d := s.at.Sub(ss[k].at); d >= time.Second {
				if s.written-ss[k].written >= w.p.w.rate/2 {
					rate := int(float64(get(s)-get(ss[k])) / d.Seconds())
					if minRate < 0 || rate < minRate {
						minRate = rate
					}
				}
				break
			}
		}
	}
	rate := "n/a (the writer was done)"
	if minRate >= 0 {
		rate = fmt.Sprintf("%d lines/s (written at %d/s)", minRate, w.p.w.rate)
	}
	// lines per second after the kill, for the first 20 s
	var perSec []string
	for sec, k := 1, 0; sec <= 20; sec++ {
		end := killed.Add(time.Duration(sec) * time.Second)
		j := k
		for j < len(ss)-1 && ss[j+1].at.Before(end) {
			j++
		}
		if j == k || ss[j].at.Before(end.Add(-time.Second)) {
			break
		}
		perSec = append(perSec, strconv.Itoa(get(ss[j])-get(ss[k])))
		k = j
	}
	return fmt.Sprintf("longest stall %s, lowest 1 s rate %s, every line written before the kill (%d lines behind then) in after %s; lines per second after the kill: %s",
		stall.Round(10*time.Millisecond), rate, before-get(ss[0]), drained, strings.Join(perSec, " "))
}
