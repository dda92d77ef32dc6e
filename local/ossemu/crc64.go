package ossemu

import "hash/crc64"

// crcTable is the CRC-64/ECMA-182 table OSS uses for x-oss-hash-crc64ecma.
var crcTable = crc64.MakeTable(crc64.ECMA)

// crc64Combine returns the CRC of A‖B from crcA, crcB and len(B) without reading the bytes:
// a multipart object's or an appended object's CRC is built from its pieces' CRCs. The method is
// zlib's crc32_combine (apply len(B) zero bytes to crcA as a GF(2) matrix power, then xor crcB),
// carried over to the reflected ECMA polynomial.
func crc64Combine(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	var even, odd [64]uint64
	// odd: the operator for one zero bit.
	odd[0] = 0xC96C5795D7870F42 // reflected ECMA-182 polynomial
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		// Each pass squares the operator (one zero byte, two, four ...) and applies it where
		// lenB has a one bit.
		gf2Square(&even, &odd)
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
		gf2Square(&odd, &even)
		if lenB&1 != 0 {
			crcA = gf2Times(&odd, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}

func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[64]uint64) {
	for n := range 64 {
		square[n] = gf2Times(mat, mat[n])
	}
}
