#pragma once
// img2col and its adjoint col2im over a range of output pixels of one image and one group, in the
// layout of COMPRESSION.md 1.3: row (c kh + i) kw + j, column p Wo + q (minus the range start).
// The pixels a window row reads inside the image form one run of q, computed once per (j), so the
// inner loops carry no bounds tests; unit stride turns the run into a contiguous copy.
#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/conv2d_geometry.h"

namespace wtconv::cpu {

namespace detail_img2col {

// The q in [0, Wo) whose input column q sw + j dw - pw lies inside [0, W): [begin, end).
struct Run {
    std::int64_t begin, end;
};
inline Run valid_columns(const ::wtconv::detail::Conv2dGeometry& g, int j) {
    const std::int64_t offset = static_cast<std::int64_t>(j) * g.dw - g.pw;  // iw at q = 0
    // q >= ceil(-offset / sw) and q <= floor((W - 1 - offset) / sw), clipped to [0, Wo).
    const std::int64_t lo = offset >= 0 ? 0 : (-offset + g.sw - 1) / g.sw;
    const std::int64_t last = g.w - 1 - offset;
    const std::int64_t hi = last < 0 ? 0 : last / g.sw + 1;
    const std::int64_t begin = std::min(lo, g.wo);
    return Run{begin, std::max(begin, std::min(hi, g.wo))};
}

// Calls fn(dst_index, src_row, q_begin, q_end, run) for the pieces of output row p that fall in
// the column range, where src_row is the input row index (maybe outside [0, H)).
template <class Fn>
void for_output_rows(const ::wtconv::detail::Conv2dGeometry& g,
                     int i,
                     std::int64_t p_begin,
                     std::int64_t p_end,
                     Fn&& fn) {
    std::int64_t p = p_begin / g.wo;
    std::int64_t q = p_begin % g.wo;
    std::int64_t at = 0;
    for (std::int64_t pixel = p_begin; pixel < p_end; ++p, q = 0) {
        const std::int64_t q_end = std::min(g.wo, q + (p_end - pixel));
        fn(at, p * g.sh + static_cast<std::int64_t>(i) * g.dh - g.ph, q, q_end);
        at += q_end - q;
        pixel += q_end - q;
    }
}

// The pieces of kernel tap (i, j)'s row of the column matrix over output pixels [p_begin, p_end)
// of one image, in column order: pad(at, count) for the columns on the padding, and
// copy(at, ih, q0, count) for the columns q0 .. q0 + count - 1 of an output row, which read input
// row ih (inside the image) at columns q sw + j dw - pw (never before the row). `at` counts from
// p_begin.
template <class Pad, class Copy>
void for_tap_pieces(const ::wtconv::detail::Conv2dGeometry& g,
                    int i,
                    int j,
                    std::int64_t p_begin,
                    std::int64_t p_end,
                    Pad&& pad,
                    Copy&& copy) {
    const Run run = valid_columns(g, j);
    for_output_rows(g, i, p_begin, p_end,
                    [&](std::int64_t at, std::int64_t ih, std::int64_t q0, std::int64_t q1) {
                        if (ih < 0 || ih >= g.h) {
                            pad(at, q1 - q0);
                            return;
                        }
                        const std::int64_t b = std::clamp(run.begin, q0, q1);
                        const std::int64_t e = std::clamp(run.end, b, q1);
                        pad(at, b - q0);
                        if (e > b) {
                            copy(at + (b - q0), ih, b, e - b);
                        }
                        pad(at + (e - q0), q1 - e);
                    });
}

// std::copy and std::fill of one run of a column row.
template <class T>
void copy_run(const T* in, std::int64_t count, T* out) {
    std::copy(in, in + count, out);
}
template <class T>
void fill_run(T* out, std::int64_t count, T value) {
    std::fill(out, out + count, value);
}

// Bytes (int8 layers): the runs of small images are short (7 x 7: 7 bytes, pads of 0 or 1), and
// the memmove and memset calls cost more than the bytes they move; up to 16 bytes go as two
// overlapping words instead.
template <class Word>
void move_short(const std::uint8_t* in, std::int64_t count, std::uint8_t* out) {
    Word head, tail;
    std::memcpy(&head, in, sizeof(Word));
    std::memcpy(&tail, in + count - sizeof(Word), sizeof(Word));
    std::memcpy(out, &head, sizeof(Word));
    std::memcpy(out + count - sizeof(Word), &tail, sizeof(Word));
}
inline void copy_run(const std::uint8_t* in, std::int64_t count, std::uint8_t* out) {
    if (count > 16) {
        std::memcpy(out, in, static_cast<std::size_t>(count));
    } else if (count >= 8) {
        move_short<std::uint64_t>(in, count, out);
    } else if (count >= 4) {
        move_short<std::uint32_t>(in, count, out);
    } else {
        for (std::int64_t q = 0; q < count; ++q) {  // 0 to 3 bytes
            out[q] = in[q];
        }
    }
}
inline void fill_run(std::uint8_t* out, std::int64_t count, std::uint8_t value) {
    std::uint8_t pattern[16];
    if (count > 16) {
        std::memset(out, value, static_cast<std::size_t>(count));
        return;
    }
    std::memset(pattern, value, sizeof(pattern));  // a constant size: inlined
    if (count >= 8) {
        move_short<std::uint64_t>(pattern, count, out);
    } else if (count >= 4) {
        move_short<std::uint32_t>(pattern, count, out);
    } else {
        for (std::int64_t q = 0; q < count; ++q) {
            out[q] = value;
        }
    }
}

// out[q] = row[first + q stride] for q < count; row has row_len elements.
template <class T>
void gather_strided(const T* row,
                    std::int64_t first,
                    std::int64_t stride,
                    std::int64_t count,
                    T* out,
                    std::int64_t /*row_len*/) {
    for (std::int64_t q = 0; q < count; ++q) {
        out[q] = row[first + q * stride];
    }
}

// Bytes at stride 2 (the int8 stem and downsampling layers): 16 outputs from 32 bytes by one
// pack, wherever those 32 bytes lie inside the row; the element loop was most of the int8 stem's
// time once its product ran on AMX.
inline void gather_strided(const std::uint8_t* row,
                           std::int64_t first,
                           std::int64_t stride,
                           std::int64_t count,
                           std::uint8_t* out,
                           std::int64_t row_len) {
    std::int64_t q = 0;
#if defined(__AVX512BW__) && defined(__AVX512VL__)
    if (stride == 2) {
        // 16 outputs from 32 bytes: the even bytes are the low halves of the words, which vpmovwb
        // keeps. Whole loads while they stay inside the row, then masked ones (masked bytes are
        // never read), so short runs (a 7 x 7 output's rows of 7) skip the element loop too.
        for (; q + 16 <= count && first + 2 * q + 32 <= row_len; q += 16) {
            const __m256i pairs =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + first + 2 * q));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + q), _mm256_cvtepi16_epi8(pairs));
        }
        for (; q < count; q += 16) {
            const std::int64_t n = std::min<std::int64_t>(16, count - q);
            const __mmask32 in_mask = static_cast<__mmask32>((std::uint64_t{1} << (2 * n - 1)) - 1);
            const __m256i pairs = _mm256_maskz_loadu_epi8(in_mask, row + first + 2 * q);
            _mm_mask_storeu_epi8(out + q, static_cast<__mmask16>((1u << n) - 1),
                                 _mm256_cvtepi16_epi8(pairs));
        }
        return;
    }
#endif
#if defined(__SSE2__)
    if (stride == 2) {
        const __m128i even = _mm_set1_epi16(0x00FF);
        for (; q + 16 <= count && first + 2 * q + 32 <= row_len; q += 16) {
            const auto* src = reinterpret_cast<const __m128i*>(row + first + 2 * q);
            const __m128i a = _mm_and_si128(_mm_loadu_si128(src), even);
            const __m128i b = _mm_and_si128(_mm_loadu_si128(src + 1), even);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + q), _mm_packus_epi16(a, b));
        }
    }
#endif
    for (; q < count; ++q) {
        out[q] = row[first + q * stride];
    }
}

}  // namespace detail_img2col

// col[K x (p_end - p_begin)] (row stride ld) from x_group, the Cg planes of one image and group;
// positions on the padding get pad (0, or a quantised input's zero point).
template <class T>
void img2col(const ::wtconv::detail::Conv2dGeometry& g,
             const T* x_group,
             std::int64_t p_begin,
             std::int64_t p_end,
             T* col,
             std::int64_t ld,
             T pad = T(0)) {
    for (std::int64_t c = 0; c < g.cg(); ++c) {
        const T* plane = x_group + c * g.hw();
        for (int i = 0; i < g.kh; ++i) {
            for (int j = 0; j < g.kw; ++j) {
                T* row = col + ((c * g.kh + i) * g.kw + j) * ld;
                const std::int64_t offset = static_cast<std::int64_t>(j) * g.dw - g.pw;
                detail_img2col::for_tap_pieces(
                    g, i, j, p_begin, p_end,
                    [&](std::int64_t at, std::int64_t count) {
                        detail_img2col::fill_run(row + at, count, pad);
                    },
                    [&](std::int64_t at, std::int64_t ih, std::int64_t q0, std::int64_t count) {
                        // indices, not shifted pointers, which could point before the arrays
                        const T* in = plane + ih * g.w;
                        T* out = row + at;
                        if (g.sw == 1) {
                            detail_img2col::copy_run(in + (q0 + offset), count, out);
                        } else {
                            detail_img2col::gather_strided(in, q0 * g.sw + offset, g.sw, count, out,
                                                           g.w);
                        }
                    });
            }
        }
    }
}

// The adjoint: dx_group += col2im(dcol), dropping what falls on the padding. Overlapping windows
// add in a fixed order (rows of dcol in turn), so the result is deterministic.
template <class T>
void col2im_add(const ::wtconv::detail::Conv2dGeometry& g,
                const T* dcol,
                std::int64_t ld,
                std::int64_t p_begin,
                std::int64_t p_end,
                T* dx_group) {
    for (std::int64_t c = 0; c < g.cg(); ++c) {
        T* plane = dx_group + c * g.hw();
        for (int i = 0; i < g.kh; ++i) {
            for (int j = 0; j < g.kw; ++j) {
                const T* row = dcol + ((c * g.kh + i) * g.kw + j) * ld;
                const std::int64_t offset = static_cast<std::int64_t>(j) * g.dw - g.pw;
                detail_img2col::for_tap_pieces(
                    g, i, j, p_begin, p_end, [](std::int64_t, std::int64_t) {},
                    [&](std::int64_t at, std::int64_t ih, std::int64_t q0, std::int64_t count) {
                        T* out = plane + ih * g.w;
                        const T* in = row + at;
                        for (std::int64_t q = 0; q < count; ++q) {
                            out[(q0 + q) * g.sw + offset] += in[q];
                        }
                    });
            }
        }
    }
}

}  // namespace wtconv::cpu
