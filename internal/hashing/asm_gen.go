//go:build ignore

// asm_gen writes blake3_amd64.s, the AVX-512 kernel behind ParallelBLAKE3 on
// amd64. Run it with `go generate` in this folder.
//
// Why a kernel of our own: guts (lukechampine.com/blake3) loads the 16
// chunks it hashes side by side with VPGATHERDD, which on AMD Zen is slow
// enough that a core hashes ~4.8 GB/s where b3sum's kernel does ~8. This one
// does what the BLAKE3 reference implementation does instead: 16 plain
// 64-byte loads per block and a 16×16 transpose in registers.
//
// The kernel compresses 16 inputs ("lanes") of `blocks` 64-byte blocks each,
// lane i starting at in + i*stride, and writes each lane's final chaining
// value to out[i]. With stride 1 KiB and 16 blocks it hashes 16 chunks; with
// stride 64 and one block it computes 16 parent nodes from 32 child chaining
// values laid out in order.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
)

var out bytes.Buffer

func emit(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }

// Registers: the eight chaining-value words live in Z0–Z7 for the whole
// call; Z8–Z31 are allocated as the code is generated.
type pool struct{ free []int }

func newPool() *pool {
	p := &pool{}
	for r := 31; r >= 8; r-- {
		p.free = append(p.free, r)
	}
	return p
}

func (p *pool) get() int {
	if len(p.free) == 0 {
		log.Fatal("out of registers")
	}
	r := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return r
}

func (p *pool) put(rs ...int) { p.free = append(p.free, rs...) }

func z(r int) string { return fmt.Sprintf("Z%d", r) }
func y(r int) string { return fmt.Sprintf("Y%d", r) }

// transpose4 turns rows (16 dwords each) into u[g][w]: 128-bit lane L of
// u[g][w] holds dword 4L+w of rows 4g..4g+3, for the groups of rows given.
func transpose4(p *pool, rows []int) (u [][4]int) {
	for g := 0; g < len(rows)/4; g++ {
		r := rows[4*g : 4*g+4]
		var t [4]int // unpacked dword pairs: lo(0,1), hi(0,1), lo(2,3), hi(2,3)
		for k := 0; k < 2; k++ {
			a, b := r[2*k], r[2*k+1]
			lo, hi := p.get(), p.get()
			emit("VPUNPCKLDQ %s, %s, %s", z(b), z(a), z(lo))
			emit("VPUNPCKHDQ %s, %s, %s", z(b), z(a), z(hi))
			p.put(a, b)
			t[2*k], t[2*k+1] = lo, hi
		}
		var uw [4]int
		for k, pair := range [2][2]int{{t[0], t[2]}, {t[1], t[3]}} {
			lo, hi := p.get(), p.get()
			emit("VPUNPCKLQDQ %s, %s, %s", z(pair[1]), z(pair[0]), z(lo))
			emit("VPUNPCKHQDQ %s, %s, %s", z(pair[1]), z(pair[0]), z(hi))
			p.put(pair[0], pair[1])
			uw[2*k], uw[2*k+1] = lo, hi
		}
		u = append(u, uw)
	}
	return u
}

// shuf emits VSHUFI32X4: dst lanes 0,1 from a, lanes 2,3 from b.
func shuf(p *pool, imm int, a, b int) int {
	d := p.get()
	emit("VSHUFI32X4 $0x%02x, %s, %s, %s", imm, z(b), z(a), z(d))
	return d
}

// loadMessage loads one block of each of the 16 lanes (rows) and transposes
// them so that m[j] holds message word j of every lane.
func loadMessage(p *pool) (m [16]int) {
	var rows []int
	// Row pointers: BX (rows 0-3), DI (4-7), R13 (8-11), R10 (12-15); row
	// 4g+k is at base + k*stride, with DX = stride and R8 = 3*stride.
	for _, base := range []string{"BX", "DI", "R13", "R10"} {
		for _, idx := range []string{"", "(DX*1)", "(DX*2)", "(R8*1)"} {
			r := p.get()
			emit("VMOVDQU32 (%s)%s, %s", base, idx, z(r))
			rows = append(rows, r)
		}
	}
	u := transpose4(p, rows)
	for w := 0; w < 4; w++ {
		a := shuf(p, 0x44, u[0][w], u[1][w])
		b := shuf(p, 0xee, u[0][w], u[1][w])
		c := shuf(p, 0x44, u[2][w], u[3][w])
		d := shuf(p, 0xee, u[2][w], u[3][w])
		p.put(u[0][w], u[1][w], u[2][w], u[3][w])
		m[w] = shuf(p, 0x88, a, c)
		m[w+4] = shuf(p, 0xdd, a, c)
		m[w+8] = shuf(p, 0x88, b, d)
		m[w+12] = shuf(p, 0xdd, b, d)
		p.put(a, b, c, d)
	}
	return m
}

var msgPermutation = [16]int{2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8}

// rounds emits BLAKE3's seven rounds on state v with message m; each step
// is emitted for four G functions at once so that they execute in parallel.
func rounds(v, m [16]int) {
	s := [16]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	for range 7 {
		for half := 0; half < 2; half++ {
			var gs [4][6]int // a, b, c, d, mx, my
			for i := 0; i < 4; i++ {
				if half == 0 {
					gs[i] = [6]int{i, 4 + i, 8 + i, 12 + i, s[2*i], s[2*i+1]}
				} else {
					gs[i] = [6]int{i, 4 + (i+1)%4, 8 + (i+2)%4, 12 + (i+3)%4, s[8+2*i], s[8+2*i+1]}
				}
			}
			step := func(f func(a, b, c, d, mx, my int)) {
				for _, g := range gs {
					f(v[g[0]], v[g[1]], v[g[2]], v[g[3]], m[g[4]], m[g[5]])
				}
			}
			for _, rot := range [2][2]int{{16, 12}, {8, 7}} {
				step(func(a, b, c, d, mx, my int) {
					msg := mx
					if rot[0] == 8 {
						msg = my
					}
					emit("VPADDD %s, %s, %s", z(msg), z(a), z(a))
				})
				step(func(a, b, c, d, mx, my int) { emit("VPADDD %s, %s, %s", z(b), z(a), z(a)) })
				step(func(a, b, c, d, mx, my int) { emit("VPXORD %s, %s, %s", z(a), z(d), z(d)) })
				step(func(a, b, c, d, mx, my int) { emit("VPRORD $%d, %s, %s", rot[0], z(d), z(d)) })
				step(func(a, b, c, d, mx, my int) { emit("VPADDD %s, %s, %s", z(d), z(c), z(c)) })
				step(func(a, b, c, d, mx, my int) { emit("VPXORD %s, %s, %s", z(c), z(b), z(b)) })
				step(func(a, b, c, d, mx, my int) { emit("VPRORD $%d, %s, %s", rot[1], z(b), z(b)) })
			}
		}
		var next [16]int
		for i := range next {
			next[i] = s[msgPermutation[i]]
		}
		s = next
	}
}

func main() {
	fmt.Fprintln(&out, "// Code generated by asm_gen.go. DO NOT EDIT.")
	fmt.Fprintln(&out)
	fmt.Fprintln(&out, "//go:build amd64 && !purego")
	fmt.Fprintln(&out)
	fmt.Fprintln(&out, `#include "textflag.h"`)
	fmt.Fprintln(&out)
	iv := []uint32{0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A}
	for i, w := range iv {
		fmt.Fprintf(&out, "DATA blake3iv<>+%d(SB)/4, $0x%08x\n", 4*i, w)
	}
	fmt.Fprintf(&out, "DATA blake3iv<>+16(SB)/4, $64\n") // block length
	fmt.Fprintln(&out, "GLOBL blake3iv<>(SB), RODATA|NOPTR, $20")
	fmt.Fprintln(&out)
	fmt.Fprintln(&out, "// func hashManyAVX512(out *[16][8]uint32, in *byte, stride uintptr, blocks uintptr, key *[8]uint32, ctr *[2][16]uint32, flags *[16]uint32)")
	fmt.Fprintln(&out, "// Requires: AVX512F, AVX512VL")
	fmt.Fprintln(&out, "TEXT ·hashManyAVX512(SB), NOSPLIT, $0-56")
	emit("MOVQ out+0(FP), AX")
	emit("MOVQ in+8(FP), SI")
	emit("MOVQ stride+16(FP), DX")
	emit("MOVQ blocks+24(FP), R9")
	emit("MOVQ key+32(FP), R10")
	emit("MOVQ ctr+40(FP), R11")
	emit("MOVQ flags+48(FP), R12")
	emit("LEAQ (DX)(DX*2), R8")
	for i := 0; i < 8; i++ {
		emit("VPBROADCASTD %d(R10), %s", 4*i, z(i))
	}
	emit("XORQ CX, CX")
	fmt.Fprintln(&out, "loop:")
	emit("MOVQ SI, BX")
	emit("LEAQ (SI)(DX*4), DI")
	emit("LEAQ (DI)(DX*4), R13")
	emit("LEAQ (R13)(DX*4), R10")
	p := newPool()
	m := loadMessage(p)
	var v [16]int
	for i := 0; i < 8; i++ {
		v[i] = i
	}
	for i := 8; i < 16; i++ {
		v[i] = p.get()
	}
	for i := 0; i < 4; i++ {
		emit("VPBROADCASTD blake3iv<>+%d(SB), %s", 4*i, z(v[8+i]))
	}
	emit("VMOVDQU32 (R11), %s", z(v[12]))
	emit("VMOVDQU32 64(R11), %s", z(v[13]))
	emit("VPBROADCASTD blake3iv<>+16(SB), %s", z(v[14]))
	emit("VPBROADCASTD (R12)(CX*4), %s", z(v[15]))
	rounds(v, m)
	for i := 0; i < 8; i++ {
		emit("VPXORD %s, %s, %s", z(v[i+8]), z(v[i]), z(v[i]))
	}
	emit("ADDQ $64, SI")
	emit("INCQ CX")
	emit("CMPQ CX, R9")
	emit("JNE loop")

	// Transpose the chaining values back: lane i's eight words to out[i].
	p = newPool()
	u := transpose4(p, []int{0, 1, 2, 3, 4, 5, 6, 7})
	for w := 0; w < 4; w++ {
		a := shuf(p, 0x44, u[0][w], u[1][w]) // CV words 0-7 of lanes w, 4+w (128-bit halves apart)
		b := shuf(p, 0xee, u[0][w], u[1][w]) // of lanes 8+w, 12+w
		p.put(u[0][w], u[1][w])
		for k, x := range []int{a, b} {
			t := shuf(p, 0xd8, x, x) // lanes in order: [lane 8k+w | lane 8k+4+w]
			emit("VMOVDQU32 %s, %d(AX)", y(t), 32*(8*k+w))
			emit("VEXTRACTI64X4 $1, %s, %d(AX)", z(t), 32*(8*k+4+w))
			p.put(t)
		}
		p.put(a, b)
	}
	emit("VZEROUPPER")
	emit("RET")

	if err := os.WriteFile("blake3_amd64.s", out.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
