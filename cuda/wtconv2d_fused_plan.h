#pragma once
// The fused WTConv2d kernels' geometry, computed on the host once per call: which output tile each
// block owns, and where each level's arrays sit in shared memory. Host- and device-readable.
//
// Every array is in level-m coordinates (level 0 = pixels, level m = 2^m pixels per position).
// A block owns the tile [t, t + T) of level 0, T a multiple of 2^L; at level m it covers
// [t >> m, (t + T) >> m). To compute y on the tile it needs the raw Haar bands of level m on the
// tile widened by e_m on each side (the deeper levels' convolutions reach that far):
//   tiled mode:       e_m = R 2^(L-m) (x itself: R 2^L), R = K / 2, but for the weight
//                     gradient's level 0 where level 1 is staged from the image: R
//                     (grad_narrow_level0);
//   whole-plane mode: the tile covers the padded plane, everything beyond it is zero, e_m = R.
// Values beyond the image are zero, so every level's padding to even size and the convolutions'
// zero padding are reproduced without special cases; values computed beyond a level's true size
// only reach pixels that are never stored (PERF.md section 1).
#include <cstdint>

namespace wtconv::cuda {

constexpr int kFusedMaxLevels = 8;
constexpr int kFusedStrip = 4;  // outputs per thread along a row: each loaded value feeds K FMAs
// The weight gradients' default block and the L = 0 forward's; every block size is a multiple of
// 32.
constexpr int kFusedThreads = 256;
// The weight-gradient kernel's block: 256 threads, or 384 when its arrays leave room for only two
// blocks an SM (more warps hide its phases' barriers); up to 80 registers a thread either way.
constexpr int kFusedGradThreads = 384;
// The registers a thread of it may use: __launch_bounds__(kFusedGradThreads, 2) allows 65536 / 768
// = 85, allocated in eights.
constexpr int kFusedGradRegisters = 65536 / (2 * kFusedGradThreads) / 8 * 8;
// The SMs of the GPU the weight-gradient grid is sized for (an H100): a constant, not the device's
// count, so that the partials, and hence the gradients' rounding, are the same on every GPU.
constexpr int kFusedGradWaveSms = 132;
// The forward's last phase: a thread finishes 2 rows x kFusedFinishCols pixels (kFusedStrip level-1
// positions of all four bands); a block has one thread per such task, at most kFusedMaxThreads
// (more tasks take turns) and at least kFusedMinThreads, or kFusedFewBlocksMinThreads when the
// shared memory lets an SM hold too few blocks for kFusedWarpsPerSm warps of the smaller size
// (the phases before the last keep every warp busy).
constexpr int kFusedFinishCols = 2 * kFusedStrip;
// The weight-gradient kernel's static shared memory: block_sum's scratch, a float per warp.
constexpr int kFusedReduceScratch = 32;
constexpr int kFusedMinThreads = 64;
constexpr int kFusedFewBlocksMinThreads = 128;
constexpr int kFusedWarpsPerSm = 16;
// 10 warps: 63x65 (a 64x68 plane) has 288 tasks, which 256 threads ran in two rounds, the second
// with one warp a block.
constexpr int kFusedMaxThreads = 320;

// Row pitches of the shared arrays read a float at a time (reconstructions, staged tiles) are odd:
// the 32 lanes of a warp read 32 different rows at one column, and an odd pitch puts those 32 words
// in 32 different banks. The level arrays and dy's pyramid, read by 16-byte loads, take
// vector_pitch below.
constexpr int odd_pitch(int n) {
    return n | 1;
}

// The floats a window row of n values takes when loaded whole, by 16-byte loads.
constexpr int whole_loads(int n) {
    return (n + 3) / 4 * 4;
}

// The weight gradients read dy's pyramid a strip of kFusedStrip floats at a time by 16-byte
// loads, lanes on different rows: a pitch of 4 x an odd number covers the strips and puts the 8
// lanes of each 16-byte load phase in 8 different groups of 4 banks.
constexpr int vector_pitch(int n) {
    return 4 * odd_pitch((n + 3) / 4);
}

// A level's windows are read a row at a time by whole 16-byte loads, lanes on consecutive rows:
// the pitch is a multiple of 4 (vector_pitch: 4 x odd, so the 8 lanes of a load phase fall in 8
// different groups of 4 banks) and each window, which starts ext - K / 2 columns into its row,
// starts 16-byte aligned (the offset is chosen so). The columns past `cols`, zero, take what the
// loads read past the last column: strips that run past it, and loads rounded up to 4 floats.
struct FusedLevel {
    int ext;         // e_m
    int rows, cols;  // (T >> m) + 2 e_m
    int pitch;       // at least cols; a multiple of 4
    int offset;      // first float of this level's arrays (level 0: x; m >= 1: 4 bands)
};

struct FusedPlan {
    int n, c, h, w;      // the full-resolution image (x, or dx in the adjoint pass)
    int ho, wo, stride;  // the strided image (y, or dy in the adjoint pass)
    int k, levels;
    int tile_h, tile_w;      // T, multiples of 2^L
    int tiles_h, tiles_w;    // tiles per plane
    int padded_h, padded_w;  // the plane rounded up to a multiple of 2^L
    bool whole_plane;
    FusedLevel level[kFusedMaxLevels + 1];
    // The reconstructions handed from level m to level m - 1 (recon_offset_of): level 1's and
    // the other odd levels' in (T/2) rows of odd_pitch(T/2), the even levels' in (T/4) rows of
    // odd_pitch(T/4) (L >= 3); level m reads level m's while it writes level m - 1's.
    int recon_even_offset;  // the first float past the level arrays
    int recon_offset;
    int weights_offset;    // (1 + 4L) K^2 weights, then 4L + 1 scales and the bias
    int prescaled_offset;  // L >= 1: the 1 + 4L kernels prescaled (load_prescaled_kernels), each
                           // round_up(K^2, 4) floats, 16-byte aligned
    int out_offset;        // L = 0 only: T rows of odd_pitch(T), the tile before it is stored
    int smem_floats;       // the forward and dx kernels' shared memory
    int threads;           // the forward and dx kernels' block: one thread per finishing task
    // The weight-gradient kernel adds the Haar pyramid of dy on the tile (no widening) after x's
    // pyramid (over the forward-only regions from recon_even_offset on): level 0 dy itself, level
    // m >= 1 four bands of (T >> m) rows.
    int grad_offset[kFusedMaxLevels + 1];
    int grad_pitch[kFusedMaxLevels + 1];  // vector_pitch(T >> m); offsets 16-byte aligned
    int grad_smem_floats;
    int grad_threads;  // the weight-gradient kernel's block
    int grad_groups;   // its blocks per channel, from the shape alone
    // Whole planes whose next item's raw x and dy (float32 at most) fit at grad_raw_offset without
    // costing a block an SM: they arrive by cp.async during the previous item's correlations.
    bool grad_prefetch;
    int grad_raw_offset;
    // A weight-gradient plan whose tiles keep x's level 0 on the tile plus R only (the base
    // correlation's reach) rather than the deeper levels' halo, which level 1, staged from the
    // image in the same pass (first_level_fusable), still gets: 256x256 K5 L3's 64-pixel tiles
    // then take 111 KB instead of 131 KB, two blocks an SM instead of one.
    bool grad_narrow_level0;
};

namespace fused {
// Whether stage_image_and_first_levels can stage this plan's image (adjoint: dy for dx): a level 1
// to build, stride 1 (a zero-upsampled dy is not one), and 4-pixel groups that lie wholly inside
// or outside a row. The weight-gradient kernel stages x this way whenever it can, and only then
// may its plan narrow level 0 (make_fused_plan asks this same function).
// (constexpr: device code calls it too)
constexpr bool first_level_fusable(const FusedPlan& p, bool adjoint) {
    return p.levels >= 1 && p.w % 4 == 0 && !(adjoint && p.stride > 1);
}
}  // namespace fused

// Where the reconstruction of level j >= 1 (level j + 1's output) lives, in floats.
// (constexpr: device code calls it too, as it does odd_pitch)
constexpr int recon_offset_of(const FusedPlan& p, int j) {
    return j % 2 == 1 ? p.recon_offset : p.recon_even_offset;
}

// The plan for a (N, C, H, W) image with the given tile, or the whole plane when tile <= 0. A tile
// is a multiple of 2^L, and for the forward and dx kernels at least kFusedFinishCols (their last
// phase stores strips of that many pixels; choose_fused_plan never goes below 8): smaller tiles
// serve only tests of the staging. narrow_level0: a weight-gradient plan's level 0 on tiles
// (grad_narrow_level0), where x's level 1 is staged from the image; not for the forward.
FusedPlan make_fused_plan(std::int64_t n,
                          std::int64_t c,
                          std::int64_t h,
                          std::int64_t w,
                          int k,
                          int levels,
                          int stride,
                          int tile,
                          bool narrow_level0 = false);

// The plan a fused kernel runs: whole planes when they fit the kernel's shared-memory budget, else
// the largest tile that does. smem_floats == 0 when nothing fits.
enum class FusedPass { kForward, kWeightGrad };
FusedPlan choose_fused_plan(std::int64_t n,
                            std::int64_t c,
                            std::int64_t h,
                            std::int64_t w,
                            int k,
                            int levels,
                            int stride,
                            FusedPass pass);

// Whether some plan fits for every image size: the smallest tile (2^L, at least 8) fits both
// passes. The fused kernels are compiled for these kernel sizes only.
bool fused_plan_exists(int k, int levels);
constexpr bool fused_kernel_size(int k) {
    return k == 3 || k == 5 || k == 7;
}

}  // namespace wtconv::cuda
