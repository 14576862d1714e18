package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one process the benchmark started: the backend or a gateway.
type proc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	// stderr, when set, receives the process's standard error instead of
	// the benchmark's own (a gateway logging every request).
	stderr *os.File
}

// start runs argv (under taskset -c cpu when cpu is set) and reads the
// address it listens on from the first line of its stdout.
func start(ctx context.Context, cpu string, argv ...string) (*proc, error) {
	p, out, err := launch(ctx, cpu, argv, true)
	if err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- strings.TrimSpace(sc.Text())
		}
		close(line)
		for sc.Scan() {
		}
	}()
	select {
	case addr, ok := <-line:
		if !ok || addr == "" {
			p.stop()
			return nil, fmt.Errorf("%s printed no address", argv[0])
		}
		p.addr = addr
		return p, nil
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s printed no address within 10s", argv[0])
	}
}

// startNoAddr runs a process whose address the caller chose.
// Its standard error goes to stderr when set.
func startNoAddr(ctx context.Context, cpu string, stderr *os.File, argv ...string) (*proc, error) {
	p, _, err := launchTo(ctx, cpu, argv, false, stderr)
	return p, err
}

func launch(ctx context.Context, cpu string, argv []string, pipe bool) (*proc, *os.File, error) {
	return launchTo(ctx, cpu, argv, pipe, nil)
}

func launchTo(ctx context.Context, cpu string, argv []string, pipe bool, stderr *os.File) (*proc, *os.File, error) {
	if cpu != "" {
		// taskset execs the program: the pid is the program's, and Go sizes
		// GOMAXPROCS from the one-core affinity it starts with.
		argv = append([]string{"taskset", "-c", cpu}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	if stderr != nil {
		cmd.Stderr = stderr
	}
	var r *os.File
	if pipe {
		var w *os.File
		var err error
		if r, w, err = os.Pipe(); err != nil {
			return nil, nil, err
		}
		cmd.Stdout = w
		defer w.Close()
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	go func() {
		select {
		case <-ctx.Done():
			p.stop()
		case <-p.done:
		}
	}()
	return p, r, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop asks the process to exit (SIGTERM, so refractprof writes its
// profile) and kills it after 10s. Safe to call more than once.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTick = 100

// cpuTime is the process's user plus system CPU time so far, from
// /proc/PID/stat (fields 14 and 15, after the parenthesized command name).
func (p *proc) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", p.pid())
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", p.pid())
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", p.pid())
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// peakRSS is the process's peak resident set size so far (VmHWM in
// /proc/PID/status).
func (p *proc) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", p.pid())
}
