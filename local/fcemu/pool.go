package fcemu

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Function types of the go1 runtime API (x-fc-function-type).
const (
	typeInvoke      = 0
	typeInitializer = 1
	typePreStop     = 2
)

// Instance states.
const (
	stateStarting = iota
	stateReady
	stateStopping // reclaimed, shut down or killed on purpose
	stateDead
)

// pool holds the instances of one function.
type pool struct {
	e    *Emulator
	fn   Function
	name string

	mu         sync.Mutex
	instances  []*instance
	changed    chan struct{} // closed and replaced whenever a slot frees or an instance changes state
	closed     bool
	seq        int
	coldStarts int
	reclaimed  int
	crashed    int
	killed     int
	queued     int
	tmpOnce    sync.Once
	tmpDir     string
	tmpErr     error
}

func newPool(e *Emulator, f Function) *pool {
	return &pool{e: e, fn: f, name: f.Spec.Name, changed: make(chan struct{})}
}

// broadcast wakes everyone waiting for the pool to change. Callers hold p.mu.
func (p *pool) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// call is one delivery to an instance: an invocation or a lifecycle hook.
type call struct {
	rec     *record // nil for hooks
	id      string
	typ     int
	payload []byte
	retry   int
	timeout time.Duration
}

func (p *pool) newCall(rec *record, payload []byte, retry int) *call {
	return &call{rec: rec, id: rec.id(), typ: typeInvoke, payload: payload, retry: retry, timeout: p.fn.Spec.Timeout}
}

// invoke runs one event invocation to completion and records it.
func (p *pool) invoke(ctx context.Context, rec *record, payload []byte, retry int) ([]byte, *Error) {
	inst, err := p.acquire(ctx, rec)
	if err != nil {
		rec.finish(0, err)
		return nil, err
	}
	out, ferr := p.exec(inst, p.newCall(rec, payload, retry))
	p.release(inst, rec)
	rec.finish(0, ferr)
	return out, ferr
}

// exec delivers a call to an instance and enforces its timeout: an instance that does not
// answer in time is killed, as FC does.
func (p *pool) exec(inst *instance, c *call) ([]byte, *Error) {
	// The caller's context is deliberately not used: like FC, an invocation runs to its
	// timeout even if the client went away, and the instance stays busy until then.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	out, ferr := inst.drv.invoke(ctx, c)
	if ferr != nil && ferr.Type == ErrorTimeout {
		p.kill(inst, ferr.Message)
	}
	return out, ferr
}

func timeoutError(d time.Duration) *Error {
	return &Error{Type: ErrorTimeout, Message: fmt.Sprintf("function timed out after %s (timeout in s.yaml); the instance was killed", d)}
}

// acquire reserves a slot on an instance, starting one when every instance is full, and waits
// for it to be ready. Invocations that wait for a starting instance are cold starts.
func (p *pool) acquire(ctx context.Context, rec *record) (*instance, *Error) {
	limit := p.fn.Spec.Concurrency()
	for {
		p.mu.Lock()
		if p.closed || p.e.closing() {
			p.mu.Unlock()
			return nil, &Error{Type: ErrorStart, Message: "the local cloud is shutting down"}
		}
		var best *instance
		for _, in := range p.instances {
			if (in.state != stateReady && in.state != stateStarting) || in.active >= limit {
				continue
			}
			// Fill ready instances first, the fullest first, so a burst packs into as few
			// instances as instanceConcurrency allows.
			if best == nil || better(in, best) {
				best = in
			}
		}
		if best == nil && len(p.instances) < p.e.opts.MaxInstances {
			best = p.newInstance()
			p.instances = append(p.instances, best)
			go best.start()
		}
		if best != nil {
			best.active++
			cold := best.state == stateStarting
			best.attach(rec)
			p.mu.Unlock()
			if cold {
				select {
				case <-best.ready:
				case <-ctx.Done():
					p.release(best, rec)
					return nil, &Error{Type: ErrorStart, Message: "gave up waiting for a cold start: " + ctx.Err().Error()}
				}
				if best.startErr != nil {
					p.release(best, rec)
					return nil, best.startErr
				}
			}
			rec.setInstance(best.name, cold, best.coldFor)
			return best, nil
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, &Error{Type: ErrorStart, Message: fmt.Sprintf("all %d instances busy: %v", p.e.opts.MaxInstances, ctx.Err())}
		}
	}
}

// better reports whether a is a better pick than b for the next request: ready before
// starting, then the fuller one.
func better(a, b *instance) bool {
	if ar, br := a.state == stateReady, b.state == stateReady; ar != br {
		return ar
	}
	return a.active > b.active
}

func (p *pool) release(inst *instance, rec *record) {
	inst.detach(rec)
	p.mu.Lock()
	inst.active--
	inst.lastUsed = time.Now()
	p.broadcast()
	p.mu.Unlock()
}

func (p *pool) newInstance() *instance {
	p.seq++
	return &instance{
		p:     p,
		seq:   p.seq,
		id:    "c-" + randomHex(12),
		name:  p.name + "#" + strconv.Itoa(p.seq),
		ready: make(chan struct{}),
		exit:  make(chan struct{}),
		recs:  map[string]*record{},
	}
}

// remove drops an instance from the pool. Callers hold p.mu.
func (p *pool) remove(inst *instance) {
	for i, in := range p.instances {
		if in == inst {
			p.instances = append(p.instances[:i], p.instances[i+1:]...)
			break
		}
	}
	p.broadcast()
}

// kill stops an instance at once, without preStop (timeouts).
func (p *pool) kill(inst *instance, why string) {
	p.mu.Lock()
	if inst.state == stateDead || inst.state == stateStopping {
		p.mu.Unlock()
		return
	}
	inst.state = stateStopping
	p.killed++
	p.remove(inst)
	p.mu.Unlock()
	p.e.log.Warn("instance killed", "function", p.name, "instance", inst.name, "reason", why)
	inst.kill()
}

// exited is called when an instance's process ends, whatever the reason.
func (p *pool) exited(inst *instance, err error) {
	p.mu.Lock()
	unexpected := inst.state == stateReady || inst.state == stateStarting
	if unexpected && inst.state == stateReady {
		p.crashed++
	}
	inst.state = stateDead
	p.remove(inst)
	p.mu.Unlock()
	if unexpected {
		p.e.log.Warn("instance exited", "function", p.name, "instance", inst.name, "err", err)
		p.e.output.line(inst.name, fmt.Sprintf("[fclocal] process exited: %v", err))
	}
}

// reclaimIdle stops instances idle for longer than IdleTimeout, with their preStop hook.
func (p *pool) reclaimIdle() {
	cutoff := time.Now().Add(-p.e.opts.IdleTimeout)
	var stop []*instance
	p.mu.Lock()
	for _, in := range p.instances {
		if in.state == stateReady && in.active == 0 && in.lastUsed.Before(cutoff) {
			in.state = stateStopping
			p.reclaimed++
			stop = append(stop, in)
		}
	}
	for _, in := range stop {
		p.remove(in)
	}
	p.mu.Unlock()
	for _, in := range stop {
		p.e.log.Info("idle instance reclaimed", "function", p.name, "instance", in.name)
		p.e.bgWG.Add(1)
		go func() {
			defer p.e.bgWG.Done()
			in.stop()
		}()
	}
}

// shutdown waits for running invocations (until ctx ends), then stops every instance with
// its preStop hook.
func (p *pool) shutdown(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	p.broadcast()
	for {
		busy := 0
		for _, in := range p.instances {
			busy += in.active
		}
		if busy == 0 {
			break
		}
		wait := p.changed
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
		}
		p.mu.Lock()
		if ctx.Err() != nil {
			break
		}
	}
	insts := append([]*instance(nil), p.instances...)
	for _, in := range insts {
		if in.state == stateReady || in.state == stateStarting {
			in.state = stateStopping
		}
	}
	p.instances = nil
	p.broadcast()
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.stop()
		}()
	}
	wg.Wait()
}

func (p *pool) stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Function: p.name, Runtime: p.fn.Spec.Runtime, Concurrency: p.fn.Spec.Concurrency(),
		ColdStarts: p.coldStarts, Reclaimed: p.reclaimed, Crashed: p.crashed, Killed: p.killed, Queued: p.queued}
	for _, in := range p.instances {
		if in.state == stateStarting || in.state == stateReady {
			s.Instances++
			s.Busy += in.active
		}
	}
	return s
}

// tmp is the function's scratch directory: TMPDIR and HOME of its instances.
func (p *pool) tmp() (string, error) {
	p.tmpOnce.Do(func() {
		if p.fn.TmpDir != "" {
			p.tmpDir, p.tmpErr = p.fn.TmpDir, os.MkdirAll(p.fn.TmpDir, 0o755)
			return
		}
		p.tmpDir, p.tmpErr = os.MkdirTemp("", "fcemu-"+p.name+"-")
	})
	return p.tmpDir, p.tmpErr
}

// env is the environment of an instance: FC's own variables, the local dev credentials, the
// function's s.yaml variables and the runtime's. Nothing is inherited from the local cloud's
// environment except PATH, so real cloud credentials never reach a function.
func (p *pool) env(inst *instance, tmp string) []string {
	spec := p.fn.Spec
	creds := p.e.opts.Credentials
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tmp,
		"TMPDIR=" + tmp,
		"TZ=UTC",
		"LANG=C.UTF-8",
		"FC_FUNCTION_NAME=" + spec.Name,
		"FC_FUNCTION_HANDLER=" + spec.Handler,
		"FC_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(spec.MemorySize),
		"FC_FUNCTION_TIMEOUT=" + strconv.Itoa(int(spec.Timeout/time.Second)),
		"FC_REGION=" + p.e.opts.Region,
		"FC_ACCOUNT_ID=" + p.e.opts.AccountID,
		"FC_INSTANCE_ID=" + inst.id,
		"FC_QUALIFIER=LATEST",
		"FC_FUNC_CODE_PATH=" + p.codeDir() + string(filepath.Separator),
		"ALIBABA_CLOUD_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + creds.AccessKeySecret,
		"ALIBABA_CLOUD_SECURITY_TOKEN=" + creds.SecurityToken,
		"FCLOCAL=1",
	}
	if p.e.opts.ClockURL != "" {
		env = append(env, "FCLOCAL_CLOCK_URL="+p.e.opts.ClockURL)
	}
	keys := make([]string, 0, len(p.fn.Env))
	for k := range p.fn.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+p.fn.Env[k])
	}
	return append(env, inst.drv.env()...)
}

func (p *pool) codeDir() string {
	if p.fn.CodeDir != "" {
		return p.fn.CodeDir
	}
	return filepath.Dir(p.fn.Executable)
}

// headers are the x-fc-* request headers FC sends with every invocation.
func (p *pool) headers(c *call) http.Header {
	spec := p.fn.Spec
	creds := p.e.opts.Credentials
	h := http.Header{}
	set := func(k, v string) { h[k] = []string{v} }
	timeout := c.timeout
	set("x-fc-request-id", c.id)
	set("x-fc-access-key-id", creds.AccessKeyID)
	set("x-fc-access-key-secret", creds.AccessKeySecret)
	set("x-fc-security-token", creds.SecurityToken)
	set("x-fc-function-name", spec.Name)
	set("x-fc-function-handler", spec.Handler)
	set("x-fc-function-memory", strconv.Itoa(spec.MemorySize))
	set("x-fc-function-timeout", strconv.Itoa(max(int(timeout/time.Second), 1)))
	set("x-fc-region", p.e.opts.Region)
	set("x-fc-account-id", p.e.opts.AccountID)
	set("x-fc-qualifier", "LATEST")
	set("x-fc-retry-count", strconv.Itoa(c.retry))
	if spec.Initializer != nil {
		set("x-fc-function-initializer", spec.Initializer.Handler)
		set("x-fc-initialization-timeout", strconv.Itoa(int(spec.Initializer.Timeout/time.Second)))
	}
	if spec.PreStop != nil {
		set("x-fc-instance-lifecycle-pre-stop-handler", spec.PreStop.Handler)
	}
	set("x-fclocal-now", p.e.clock.Now().UTC().Format(time.RFC3339Nano))
	return h
}

// instance is one running copy of a function.
type instance struct {
	p    *pool
	seq  int
	id   string // FC_INSTANCE_ID
	name string // function#seq, for people
	drv  driver
	cmd  *exec.Cmd

	ready    chan struct{} // closed when ready or failed to start
	startErr *Error
	coldFor  time.Duration
	exit     chan struct{} // closed when the process has exited
	exitErr  error

	// under p.mu
	state    int
	active   int
	lastUsed time.Time

	outMu  sync.Mutex
	recs   map[string]*record // invocations whose output this instance is printing
	recent []finished         // the last invocations that ended, for output that arrives late
}

// finished remembers an invocation that ended: its process may still be printing for it (the
// output pipe is read independently of the response).
type finished struct {
	rec *record
	at  time.Time
}

const (
	recentKept  = 16
	recentGrace = 100 * time.Millisecond
)

// driver speaks one runtime's protocol with an instance.
type driver interface {
	env() []string
	// waitReady blocks until the process can take work.
	waitReady(ctx context.Context) error
	// invoke delivers an event invocation or lifecycle hook and waits for its answer; it
	// returns ErrorTimeout when ctx ends first and ErrorProcessExited when the process dies.
	invoke(ctx context.Context, c *call) ([]byte, *Error)
	close()
}

func (in *instance) attach(rec *record) {
	if rec == nil {
		return
	}
	in.outMu.Lock()
	in.recs[rec.id()] = rec
	in.outMu.Unlock()
}

func (in *instance) detach(rec *record) {
	if rec == nil {
		return
	}
	in.outMu.Lock()
	delete(in.recs, rec.id())
	in.recent = append(in.recent, finished{rec, time.Now()})
	if len(in.recent) > recentKept {
		in.recent = in.recent[1:]
	}
	in.outMu.Unlock()
}

// output attributes one line of the process's output: to the invocation whose request id it
// names (running or recently ended), else to the running ones (an instance serving several
// requests at once cannot tell them apart), else to one that ended a moment ago. It is echoed
// either way.
func (in *instance) output(line string) {
	in.p.e.output.line(in.name, line)
	in.outMu.Lock()
	var target []*record
	for id, r := range in.recs {
		if strings.Contains(line, id) {
			target = []*record{r}
			break
		}
		target = append(target, r)
	}
	if len(target) != 1 || !strings.Contains(line, target[0].id()) {
		for i := len(in.recent) - 1; i >= 0; i-- {
			if strings.Contains(line, in.recent[i].rec.id()) {
				target = []*record{in.recent[i].rec}
				break
			}
		}
	}
	if len(target) == 0 && len(in.recent) > 0 {
		if last := in.recent[len(in.recent)-1]; time.Since(last.at) < recentGrace {
			target = []*record{last.rec}
		}
	}
	in.outMu.Unlock()
	for _, r := range target {
		r.appendLog(line)
	}
}

func (in *instance) fail(e *Error) {
	in.startErr = e
	p := in.p
	p.mu.Lock()
	if in.state != stateDead {
		in.state = stateStopping
	}
	p.remove(in)
	p.mu.Unlock()
	close(in.ready)
	in.kill()
	p.e.log.Warn("instance failed to start", "function", p.name, "instance", in.name, "err", e)
}

// start launches the process, waits for its runtime to be ready and runs the initializer.
func (in *instance) start() {
	p := in.p
	t0 := time.Now()
	tmp, err := p.tmp()
	if err != nil {
		in.fail(&Error{Type: ErrorStart, Message: err.Error()})
		return
	}
	if p.fn.Spec.IsCustom() {
		in.drv, err = newCustomDriver(in)
	} else {
		in.drv, err = newGo1Driver(in)
	}
	if err != nil {
		in.fail(&Error{Type: ErrorStart, Message: err.Error()})
		return
	}
	args := []string{}
	if c := p.fn.Spec.Custom; c != nil && p.fn.Spec.IsCustom() {
		if len(c.Command) > 1 {
			args = append(args, c.Command[1:]...)
		}
		args = append(args, c.Args...)
	}
	cmd := exec.Command(p.fn.Executable, args...)
	cmd.Dir = p.codeDir()
	cmd.Env = p.env(in, tmp)
	stdout := &lineWriter{emit: in.output}
	stderr := &lineWriter{emit: in.output}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	in.cmd = cmd
	if err := p.e.spawner.start(cmd); err != nil {
		in.drv.close()
		in.fail(&Error{Type: ErrorStart, Message: fmt.Sprintf("cannot start %s: %v", p.fn.Executable, err)})
		close(in.exit)
		return
	}
	go func() {
		err := cmd.Wait()
		stdout.flush()
		stderr.flush()
		in.exitErr = err
		// Out of the pool before anyone waiting on exit learns of it, so the next request
		// never picks the dead instance.
		p.exited(in, err)
		close(in.exit)
		in.drv.close()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), p.e.opts.StartTimeout)
	err = in.drv.waitReady(ctx)
	cancel()
	if err != nil {
		in.fail(&Error{Type: ErrorStart, Message: err.Error()})
		return
	}
	if init := p.fn.Spec.Initializer; init != nil {
		c := &call{id: newRequestID(), typ: typeInitializer, timeout: init.Timeout}
		ctx, cancel := context.WithTimeout(context.Background(), init.Timeout)
		_, ferr := in.drv.invoke(ctx, c)
		cancel()
		if ferr != nil {
			in.fail(&Error{Type: ErrorInitializer, Message: ferr.Error(), Payload: ferr.Payload})
			return
		}
	}
	in.coldFor = time.Since(t0)
	p.mu.Lock()
	if in.state != stateStarting {
		p.mu.Unlock()
		in.fail(&Error{Type: ErrorStart, Message: "instance stopped while starting"})
		return
	}
	in.state = stateReady
	p.coldStarts++
	in.lastUsed = time.Now()
	p.broadcast()
	p.mu.Unlock()
	p.e.log.Debug("instance ready", "function", p.name, "instance", in.name, "coldStart", in.coldFor)
	close(in.ready)
}

// stop runs the preStop hook (when s.yaml declares one and the instance is up), then kills the
// process.
func (in *instance) stop() {
	<-in.ready
	if pre := in.p.fn.Spec.PreStop; pre != nil && in.startErr == nil && !in.exited() {
		c := &call{id: newRequestID(), typ: typePreStop, timeout: pre.Timeout}
		ctx, cancel := context.WithTimeout(context.Background(), pre.Timeout)
		if _, ferr := in.drv.invoke(ctx, c); ferr != nil {
			in.p.e.log.Warn("preStop failed", "function", in.p.name, "instance", in.name, "err", ferr)
		}
		cancel()
	}
	in.terminate()
}

// terminate asks the process group to exit (SIGTERM), as FC does when it reclaims an
// instance, and kills it if it is still there after a grace period.
func (in *instance) terminate() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	syscall.Kill(-in.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-in.exit:
	case <-time.After(terminateGrace):
	}
	in.kill()
}

// terminateGrace is how long a stopping instance may take to exit after SIGTERM.
const terminateGrace = 3 * time.Second

func (in *instance) exited() bool {
	select {
	case <-in.exit:
		return true
	default:
		return false
	}
}

// kill kills the process group and waits for the process to be gone.
func (in *instance) kill() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	killGroup(in.cmd)
	select {
	case <-in.exit:
	case <-time.After(10 * time.Second):
		in.p.e.log.Error("instance did not exit after SIGKILL", "function", in.p.name, "instance", in.name)
	}
}

// processExited builds the error for an invocation whose process died under it.
func (in *instance) processExited() *Error {
	<-in.exit
	return &Error{Type: ErrorProcessExited, Message: fmt.Sprintf("process exited unexpectedly before completing the request: %v", in.exitErr)}
}
