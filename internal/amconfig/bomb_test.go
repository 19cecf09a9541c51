package amconfig

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAliasBomb: YAML aliases that multiply a route tree exponentially
// ("billion laughs") must be refused quickly, not walked.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("receivers: [{name: r}]\nx0: &a0 {receiver: r, matchers: [a=\"1\"]}\n")
	for i := 1; i <= 30; i++ {
		b.WriteString("x" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " {receiver: r, routes: [*a" + strconv.Itoa(i-1) + ", *a" + strconv.Itoa(i-1) + "]}\n")
	}
	b.WriteString("route: {receiver: r, routes: [*a30]}\n")
	start := time.Now()
	_, err := Import([]byte(b.String()), Options{})
	if err == nil {
		t.Fatal("an exponential route tree was accepted")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	if !strings.Contains(err.Error(), "more than") {
		t.Errorf("err = %v", err)
	}
}

// TestManyRoutes: the largest accepted tree maps in reasonable time.
func TestManyRoutes(t *testing.T) {
	var b strings.Builder
	b.WriteString("receivers: [{name: r}]\nroute:\n  receiver: r\n  group_wait: 1m\n  routes:\n")
	for i := range MaxRoutes - 1 {
		b.WriteString("    - {matchers: [n=\"" + strconv.Itoa(i) + "\"]}\n")
	}
	start := time.Now()
	r, err := Import([]byte(b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Services) != MaxRoutes {
		t.Errorf("%d services", len(r.Services))
	}
	// The bound catches a blow-up (quadratic or worse), not a slow
	// machine: alone it takes about 1 s, and 3 to 7 s on CI's two cores
	// while the rest of the suite runs beside it.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestDeepRoutes: a deep tree's long conditions still validate in vigil
// (a condition past CEL's limits would be reported and left empty).
func TestDeepRoutes(t *testing.T) {
	var b strings.Builder
	b.WriteString("receivers: [{name: r}]\nroute:\n  receiver: r\n  routes:\n")
	indent := "    "
	for i := range 60 {
		b.WriteString(indent + "- matchers: [n" + strconv.Itoa(i) + "=~\"a.*b.*c\"]\n" + indent + "  routes:\n")
		indent += "    "
	}
	b.WriteString(indent + "- matchers: [last=\"1\"]\n")
	r, err := Import([]byte(b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Services {
		if err := s.Normalize(); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	t.Logf("%d services, %d unmapped", len(r.Services), len(r.Unmapped))
}
