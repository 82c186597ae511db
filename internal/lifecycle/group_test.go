package lifecycle

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCloseCancelsAndWaits(t *testing.T) {
	g := New(context.Background())
	exited := make(chan struct{})
	started := make(chan struct{})
	if !g.Go(func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		close(exited)
	}) {
		t.Fatal("Go refused before Close")
	}
	<-started
	g.Close()
	select {
	case <-exited:
	default:
		t.Fatal("Close returned before the goroutine exited")
	}
}

func TestGoRefusedOnceClosing(t *testing.T) {
	g := New(context.Background())
	g.Close()
	if g.Go(func(context.Context) { t.Error("ran after Close") }) {
		t.Fatal("Go accepted after Close")
	}
	if !g.Closing() {
		t.Fatal("Closing false after Close")
	}
	if g.Context().Err() == nil {
		t.Fatal("context not cancelled")
	}
}

// A goroutine that starts another while Close is waiting: the second is
// refused instead of racing the wait.
func TestGoFromInsideDuringClose(t *testing.T) {
	g := New(context.Background())
	refused := make(chan bool, 1)
	g.Go(func(ctx context.Context) {
		<-ctx.Done()
		refused <- !g.Go(func(context.Context) {})
	})
	g.Close()
	if !<-refused {
		t.Fatal("a goroutine started during Close")
	}
}

func TestConcurrentCloseAllWait(t *testing.T) {
	g := New(context.Background())
	release := make(chan struct{})
	var exited sync.WaitGroup
	exited.Add(1)
	g.Go(func(ctx context.Context) {
		defer exited.Done()
		<-ctx.Done()
		<-release
	})
	returned := make(chan struct{}, 3)
	for range 3 {
		go func() { g.Close(); returned <- struct{}{} }()
	}
	// No Close may return while the goroutine is held.
	select {
	case <-returned:
		t.Fatal("Close returned while a goroutine was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	for range 3 {
		<-returned
	}
	exited.Wait()
}

func TestEveryRunsUntilClose(t *testing.T) {
	g := New(context.Background())
	ran := make(chan struct{}, 16)
	if !g.Every(time.Millisecond, func(context.Context) {
		select {
		case ran <- struct{}{}:
		default:
		}
	}) {
		t.Fatal("Every refused before Close")
	}
	for range 3 {
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Fatal("fn did not run")
		}
	}
	g.Close()
	if g.Every(time.Millisecond, func(context.Context) {}) {
		t.Fatal("Every accepted after Close")
	}
}
