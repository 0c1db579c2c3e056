// Command porcupine_compare checks cas-register histories with Porcupine, for
// tools/compare_porcupine.py: one JSON history per argument (a list of
// operations: client, op 0 get / 1 put / 2 cas, value, expected, result, call and
// ret in nanoseconds, ret -1 for an operation given up on), and prints one line
// per history: its verdict and the seconds Porcupine's check took.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/anishathalye/porcupine"
)

type call struct {
	Client   int   `json:"client"`
	Op       int   `json:"op"`
	Value    int64 `json:"value"`
	Expected int64 `json:"expected"`
	Result   int64 `json:"result"`
	Call     int64 `json:"call"`
	Ret      int64 `json:"ret"`
}

type input struct {
	op              int
	value, expected int64
}

type output struct {
	result  int64
	unknown bool // given up on: any result, and the effect it must have had if it took one
}

// A register of int64 (0 = never written): get reads it, put writes it, cas
// swaps it when it holds the expected value and answers 1, else answers 0.
var register = porcupine.Model{
	Init: func() interface{} { return int64(0) },
	Step: func(state, in, out interface{}) (bool, interface{}) {
		s, i, o := state.(int64), in.(input), out.(output)
		switch i.op {
		case 0:
			return o.unknown || o.result == s, s
		case 1:
			return true, i.value
		default:
			swapped := s == i.expected
			if !o.unknown && (o.result == 1) != swapped {
				return false, s
			}
			if swapped {
				return true, i.value
			}
			return true, s
		}
	},
	Equal: func(a, b interface{}) bool { return a.(int64) == b.(int64) },
}

func main() {
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var calls []call
		if err := json.Unmarshal(data, &calls); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(2)
		}
		ops := make([]porcupine.Operation, len(calls))
		for k, c := range calls {
			ret := c.Ret
			if ret < 0 {
				ret = math.MaxInt64
			}
			ops[k] = porcupine.Operation{ClientId: c.Client, Input: input{c.Op, c.Value, c.Expected},
				Call: c.Call, Output: output{c.Result, c.Ret < 0}, Return: ret}
		}
		start := time.Now()
		ok := porcupine.CheckOperations(register, ops)
		fmt.Printf("%s %v %.6f\n", path, ok, time.Since(start).Seconds())
	}
}
