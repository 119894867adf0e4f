// test_wtconv_cuda (needs a GPU): the fused kernels' two ways of staging an image and its Haar
// pyramid into shared memory leave the same bits in every element of every level's arrays. The
// one-pass staging of x with level 1 (cuda/wtconv2d_fused_first_level.cuh; whole planes with
// levels 1 and 2, cuda/wtconv2d_fused_whole_plane.cuh) must reproduce staging x first and building
// its levels from it (cuda/wtconv2d_fused_stages.cuh) exactly, slack columns included, and the
// weight-gradient kernel's one pass over a whole plane's x and dy (cuda/wtconv2d_fused_wgrad.cuh)
// must reproduce both staged first, dy's sum to rounding: the kernels'
// outputs cannot show a slack column that is not zero, as only pixels that are never stored and the
// unused ends of whole 16-byte loads read one. Each path starts from shared memory poisoned with a
// NaN payload of its own, so an element of an array that either path leaves unwritten differs.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "cuda/wtconv2d_fused_wgrad.cuh"
#include "support/wtconv_check.h"
#include "wtconv_fused_plan_text.h"

namespace wtconv::cuda {
namespace {

constexpr std::uint32_t kPoisonStaged = 0x7fc0dead;   // the path that stages first
constexpr std::uint32_t kPoisonOnePass = 0x7fc0beef;  // the one-pass path

// Levels 0..L end where the forward's other regions start.
__host__ __device__ int level_floats(const FusedPlan& p) {
    return p.recon_even_offset;
}

__device__ void poison(float* smem, int floats, std::uint32_t bits) {
    for (int i = threadIdx.x; i < floats; i += blockDim.x) {
        smem[i] = __uint_as_float(bits);
    }
    __syncthreads();
}

__device__ void copy_out(const float* smem, int floats, std::uint32_t* out) {
    for (int i = threadIdx.x; i < floats; i += blockDim.x) {
        out[i] = __float_as_uint(smem[i]);
    }
    __syncthreads();
}

// Block b stages tile b both ways (the one pass: window by window for tiles, with level 2 too for
// whole planes of two levels or more); staged[b] and one_pass[b] receive the level arrays' bits.
template <class S>
__global__ void stage_both_ways(FusedPlan p,
                                const S* x,
                                std::uint32_t* staged,
                                std::uint32_t* one_pass) {
    extern __shared__ __align__(16) float smem[];
    const fused::TileIndex t = fused::tile_of_block(p, static_cast<int>(blockIdx.x));
    const int floats = level_floats(p);
    const long long at = static_cast<long long>(blockIdx.x) * floats;
    poison(smem, floats, kPoisonStaged);
    fused::stage_image<S, false>(p, x, t, smem);
    fused::build_pyramid(p, t, smem, 1);  // ends with a barrier
    copy_out(smem, floats, staged + at);
    poison(smem, floats, kPoisonOnePass);
    const int deepest = fused::stage_image_and_first_levels<S>(p, x, t, smem);
    fused::build_pyramid(p, t, smem, deepest + 1);
    copy_out(smem, floats, one_pass + at);
}

std::string describe(const FusedPlan& p, int threads) {
    return describe_plan(p) + ", " + std::to_string(threads) + " threads";
}

// Where in a plan's level arrays float i lies, for a failure's message.
std::string where_in_levels(const FusedPlan& p, int i) {
    for (int m = p.levels; m >= 0; --m) {
        const FusedLevel& lv = p.level[m];
        if (i >= lv.offset) {
            const int local = i - lv.offset, band_size = lv.rows * lv.pitch;
            const int band = local / band_size, row = local % band_size / lv.pitch;
            const int col = local % lv.pitch;
            return "level " + std::to_string(m) + " band " + std::to_string(band) + " row " +
                   std::to_string(row) + " column " + std::to_string(col) + " (cols " +
                   std::to_string(lv.cols) + ", pitch " + std::to_string(lv.pitch) + ")";
        }
    }
    return "?";
}

// A plan-shaped image on the host: random normal values, never zero (a zero would pass for
// padding), rounded to S.
template <class S>
Tensor random_image(const FusedPlan& p, std::mt19937& rng) {
    std::vector<float> values(static_cast<std::size_t>(p.n) * p.c * p.h * p.w);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : values) {
        v = normal(rng);
        v = v == 0.f ? 0.5f : v;
    }
    return Tensor::from_vector(values, Shape{p.n, p.c, p.h, p.w}).to(storage_dtype<S>());
}

// [first, end) of each level's arrays in a plan's shared memory: the floats between arrays that
// align their windows belong to none.
std::vector<std::pair<int, int>> level_ranges(const FusedPlan& p) {
    std::vector<std::pair<int, int>> ranges;
    for (int m = 0; m <= p.levels; ++m) {
        const FusedLevel& lv = p.level[m];
        ranges.emplace_back(lv.offset, lv.offset + (m == 0 ? 1 : 4) * lv.rows * lv.pitch);
    }
    return ranges;
}

// True when the two ways' copies of every block's shared memory (`stride` floats a block, as
// device bits) agree in every float of `ranges`; else one failure naming the first difference,
// located by where(float).
template <class Where>
bool same_bits(const FusedPlan& p,
               int threads,
               const Tensor& staged,
               const Tensor& one_pass,
               int blocks,
               int stride,
               const std::vector<std::pair<int, int>>& ranges,
               const Where& where) {
    const Tensor staged_host = staged.to(Device::cpu()), one_pass_host = one_pass.to(Device::cpu());
    const auto* a = reinterpret_cast<const std::uint32_t*>(staged_host.data<std::int32_t>());
    const auto* b = reinterpret_cast<const std::uint32_t*>(one_pass_host.data<std::int32_t>());
    for (int block = 0; block < blocks; ++block) {
        for (const auto& [first, end] : ranges) {
            for (int local = first; local < end; ++local) {
                const std::size_t i = static_cast<std::size_t>(block) * stride + local;
                if (a[i] == b[i]) {
                    continue;
                }
                float fa, fb;
                std::memcpy(&fa, &a[i], 4);
                std::memcpy(&fb, &b[i], 4);
                ADD_FAILURE() << describe(p, threads) << ": block " << block << ", " << where(local)
                              << ": staged first " << fa << " (0x" << std::hex << a[i]
                              << "), one pass " << fb << " (0x" << b[i] << ")" << std::dec;
                return false;
            }
        }
    }
    return true;
}

// Runs one plan; true when both paths left the same bits everywhere.
template <class S>
bool same_bits_both_ways(const FusedPlan& p, int threads, std::mt19937& rng) {
    const Tensor x = random_image<S>(p, rng).to(Device::cuda(0));
    const int blocks = p.n * p.c * p.tiles_h * p.tiles_w;
    const Shape out_shape{static_cast<std::int64_t>(blocks) * level_floats(p)};
    Tensor staged = Tensor::empty(out_shape, DType::kInt32, Device::cuda(0));
    Tensor one_pass = Tensor::empty(out_shape, DType::kInt32, Device::cuda(0));
    const std::size_t smem = static_cast<std::size_t>(level_floats(p)) * sizeof(float);
    EXPECT_EQ(cudaFuncSetAttribute(stage_both_ways<S>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   static_cast<int>(smem)),
              cudaSuccess);
    stage_both_ways<S><<<blocks, threads, smem>>>(p, static_cast<const S*>(x.raw_data()),
                                                  static_cast<std::uint32_t*>(staged.raw_data()),
                                                  static_cast<std::uint32_t*>(one_pass.raw_data()));
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << describe(p, threads);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess) << describe(p, threads);
    return same_bits(p, threads, staged, one_pass, blocks, level_floats(p), level_ranges(p),
                     [&](int i) { return where_in_levels(p, i); });
}

// Block b stages tile b by the one pass under a weight-gradient plan whose level 0 is narrowed
// (grad_narrow_level0) and under its twin that keeps level 0's whole window; out_narrow[b] and
// out_wide[b] receive the level arrays' bits.
template <class S>
__global__ void stage_narrow_and_wide(FusedPlan narrow,
                                      FusedPlan wide,
                                      const S* x,
                                      std::uint32_t* out_narrow,
                                      std::uint32_t* out_wide) {
    extern __shared__ __align__(16) float smem[];
    const fused::TileIndex t = fused::tile_of_block(narrow, static_cast<int>(blockIdx.x));
    const auto stage = [&](const FusedPlan& p, std::uint32_t* out) {
        const int floats = level_floats(p);
        poison(smem, floats, kPoisonOnePass);
        const int deepest = fused::stage_image_and_first_levels<S>(p, x, t, smem);
        fused::build_pyramid(p, t, smem, deepest + 1);  // ends with a barrier
        copy_out(smem, floats, out + static_cast<long long>(blockIdx.x) * floats);
    };
    stage(narrow, out_narrow);
    stage(wide, out_wide);
}

// True when a narrowed plan's arrays hold the wide twin's bits: levels 1..L element for element,
// level 0 on its own window (the twin's shifted by the difference of their halos), its slack
// columns zero.
template <class S>
bool narrow_matches_wide(const FusedPlan& narrow,
                         const FusedPlan& wide,
                         int threads,
                         std::mt19937& rng) {
    const Tensor x = random_image<S>(narrow, rng).to(Device::cuda(0));
    const int blocks = narrow.n * narrow.c * narrow.tiles_h * narrow.tiles_w;
    const int fn = level_floats(narrow), fw = level_floats(wide);
    Tensor a = Tensor::empty(Shape{static_cast<std::int64_t>(blocks) * fn}, DType::kInt32,
                             Device::cuda(0));
    Tensor b = Tensor::empty(Shape{static_cast<std::int64_t>(blocks) * fw}, DType::kInt32,
                             Device::cuda(0));
    const std::size_t smem = static_cast<std::size_t>(std::max(fn, fw)) * sizeof(float);
    EXPECT_EQ(
        cudaFuncSetAttribute(stage_narrow_and_wide<S>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(smem)),
        cudaSuccess);
    stage_narrow_and_wide<S><<<blocks, threads, smem>>>(
        narrow, wide, static_cast<const S*>(x.raw_data()),
        static_cast<std::uint32_t*>(a.raw_data()), static_cast<std::uint32_t*>(b.raw_data()));
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << describe(narrow, threads);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess) << describe(narrow, threads);
    const Tensor ah = a.to(Device::cpu()), bh = b.to(Device::cpu());
    const auto* na = reinterpret_cast<const std::uint32_t*>(ah.data<std::int32_t>());
    const auto* wa = reinterpret_cast<const std::uint32_t*>(bh.data<std::int32_t>());
    for (int block = 0; block < blocks; ++block) {
        for (int m = 0; m <= narrow.levels; ++m) {
            const FusedLevel& ln = narrow.level[m];
            const FusedLevel& lw = wide.level[m];
            const int d = lw.ext - ln.ext;
            for (int band = 0; band < (m == 0 ? 1 : 4); ++band) {
                for (int r = 0; r < ln.rows; ++r) {
                    for (int c = 0; c < ln.pitch; ++c) {
                        const std::uint32_t got =
                            na[static_cast<std::size_t>(block) * fn + ln.offset +
                               (band * ln.rows + r) * ln.pitch + c];
                        const std::uint32_t want =
                            c < ln.cols
                                ? wa[static_cast<std::size_t>(block) * fw + lw.offset +
                                     (band * lw.rows + r + d) * lw.pitch + c + d]
                                : (m == 0 ? 0u
                                          : wa[static_cast<std::size_t>(block) * fw + lw.offset +
                                               (band * lw.rows + r) * lw.pitch + c]);
                        if (got != want) {
                            ADD_FAILURE() << describe(narrow, threads) << ": block " << block
                                          << ", level " << m << " band " << band << " row " << r
                                          << " column " << c << ": narrow 0x" << std::hex << got
                                          << ", wide 0x" << want << std::dec;
                            return false;
                        }
                    }
                }
            }
        }
    }
    return true;
}

// same_bits_both_ways, or for a plan with level 0 narrowed (which staging first cannot serve: it
// builds level 1 from level 0's array) the same for its wide twin and narrow_matches_wide.
template <class S>
bool staging_matches(const FusedPlan& p, int threads, std::mt19937& rng) {
    if (!p.grad_narrow_level0) {
        return same_bits_both_ways<S>(p, threads, rng);
    }
    const FusedPlan wide = make_fused_plan(p.n, p.c, p.h, p.w, p.k, p.levels, p.stride, p.tile_h);
    return same_bits_both_ways<S>(wide, threads, rng) &&
           narrow_matches_wide<S>(p, wide, threads, rng);
}

// Random plans the one-pass staging takes (rows a multiple of 4 pixels, a level 1 at least): whole
// planes as both passes choose them, and tiles of every size down to 2^L, sizes 1 to 72 rows.
template <class S>
void check_random_plans(unsigned seed, int count) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> any(0, 1 << 30);
    const int ks[] = {3, 5, 7};
    const int block_sizes[] = {32, 64, 96, 128, 256, 320, 384};
    int checked = 0, tiled = 0, whole_deep = 0, whole_odd = 0, narrow = 0;
    while (checked < count) {
        const int k = ks[any(rng) % 3];
        const int levels = 1 + any(rng) % 4;
        const int h = 1 + any(rng) % 72, w = 4 * (1 + any(rng) % 18);
        const int stride = 1 + any(rng) % 3;
        const int n = 1 + any(rng) % 2, c = 1 + any(rng) % 2;
        FusedPlan p;
        const int mode = any(rng) % 3;
        if (mode == 0) {
            p = choose_fused_plan(n, c, h, w, k, levels, stride, FusedPass::kForward);
        } else if (mode == 1) {
            p = choose_fused_plan(n, c, h, w, k, levels, stride, FusedPass::kWeightGrad);
        } else {
            const int unit = 1 << levels;
            // half of them weight-gradient plans with level 0 narrowed (grad_narrow_level0)
            p = make_fused_plan(n, c, h, w, k, levels, stride, unit * (1 + any(rng) % 4),
                                any(rng) % 2 == 0);
        }
        if (p.smem_floats == 0 || !fused::first_level_fusable(p, false) ||
            level_floats(p) * sizeof(float) > 200 * 1024) {
            continue;
        }
        tiled += p.whole_plane ? 0 : 1;
        whole_deep += p.whole_plane && levels >= 2 ? 1 : 0;  // level 2 staged too
        whole_odd += p.whole_plane && h % 2 == 1 ? 1 : 0;    // a row pair half outside
        narrow += p.grad_narrow_level0 ? 1 : 0;
        if (!staging_matches<S>(p, block_sizes[any(rng) % 7], rng)) {
            return;  // one failure says it all
        }
        ++checked;
    }
    EXPECT_GT(tiled, count / 5) << "too few tiled plans to cover the halos";
    EXPECT_GT(whole_deep, count / 5) << "too few whole planes with level 2 staged";
    EXPECT_GT(whole_odd, count / 10) << "too few whole planes of odd height";
    EXPECT_GT(narrow, count / 20) << "too few weight-gradient tiles with level 0 narrowed";
}

// Block b stages whole plane b's x and dy both ways: first (x, its pyramid, then dy's pyramid by
// stage_dy_pyramid) and by stage_whole_plane_x_and_dy; the arrays' bits go to staged[b] and
// one_pass[b] (grad_smem_floats each), dy's sums to sums[2 b] and sums[2 b + 1].
template <class S>
__global__ void stage_x_and_dy_both_ways(FusedPlan p,
                                         const S* x,
                                         const S* dy,
                                         std::uint32_t* staged,
                                         std::uint32_t* one_pass,
                                         float* sums) {
    extern __shared__ __align__(16) float smem[];
    const fused::TileIndex t = fused::tile_of_block(p, static_cast<int>(blockIdx.x));
    const int floats = p.grad_smem_floats;
    const long long at = static_cast<long long>(blockIdx.x) * floats;
    poison(smem, floats, kPoisonStaged);
    fused::stage_image<S, false>(p, x, t, smem);
    fused::build_pyramid(p, t, smem, 1);
    atomicAdd(&sums[2 * blockIdx.x], fused::stage_dy_pyramid(p, dy, t, smem));
    copy_out(smem, floats, staged + at);
    poison(smem, floats, kPoisonOnePass);
    atomicAdd(&sums[2 * blockIdx.x + 1], fused::stage_whole_plane_x_and_dy<S>(p, x, dy, t, smem));
    copy_out(smem, floats, one_pass + at);
}

// Where in a plan's dy arrays float i lies, for a failure's message.
std::string where_in_gradient(const FusedPlan& p, int i) {
    for (int m = p.levels; m >= 0; --m) {
        if (i >= p.grad_offset[m]) {
            const int local = i - p.grad_offset[m], band_size = (p.tile_h >> m) * p.grad_pitch[m];
            return "dy level " + std::to_string(m) + " band " + std::to_string(local / band_size) +
                   " row " + std::to_string(local % band_size / p.grad_pitch[m]) + " column " +
                   std::to_string(local % p.grad_pitch[m]);
        }
    }
    return "?";
}

// Runs one whole-plane plan; true when both ways left the same bits in x's and dy's arrays and
// dy's sums agree to 1e-5 of the sum of |dy|.
template <class S>
bool same_x_and_dy_both_ways(const FusedPlan& p, int threads, std::mt19937& rng) {
    const Tensor x = random_image<S>(p, rng).to(Device::cuda(0));
    const Tensor dy_host = random_image<S>(p, rng);
    const Tensor dy = dy_host.to(Device::cuda(0));
    const int blocks = p.n * p.c;
    const Shape out_shape{static_cast<std::int64_t>(blocks) * p.grad_smem_floats};
    Tensor staged = Tensor::empty(out_shape, DType::kInt32, Device::cuda(0));
    Tensor one_pass = Tensor::empty(out_shape, DType::kInt32, Device::cuda(0));
    Tensor sums = Tensor::zeros(Shape{2 * blocks}, DType::kFloat32, Device::cuda(0));
    const std::size_t smem = static_cast<std::size_t>(p.grad_smem_floats) * sizeof(float);
    EXPECT_EQ(
        cudaFuncSetAttribute(stage_x_and_dy_both_ways<S>,
                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
        cudaSuccess);
    stage_x_and_dy_both_ways<S><<<blocks, threads, smem>>>(
        p, static_cast<const S*>(x.raw_data()), static_cast<const S*>(dy.raw_data()),
        static_cast<std::uint32_t*>(staged.raw_data()),
        static_cast<std::uint32_t*>(one_pass.raw_data()), static_cast<float*>(sums.raw_data()));
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << describe(p, threads);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess) << describe(p, threads);
    // x's level arrays, then dy's from grad_offset[0] on
    std::vector<std::pair<int, int>> ranges = level_ranges(p);
    const int last = p.levels;
    ranges.emplace_back(
        p.grad_offset[0],
        p.grad_offset[last] + (last == 0 ? 1 : 4) * (p.tile_h >> last) * p.grad_pitch[last]);
    if (!same_bits(p, threads, staged, one_pass, blocks, p.grad_smem_floats, ranges, [&](int i) {
            return i >= p.grad_offset[0] ? where_in_gradient(p, i) : where_in_levels(p, i);
        })) {
        return false;
    }
    const Tensor sums_host = sums.to(Device::cpu());
    const Tensor dy_float = dy_host.to(DType::kFloat32);
    for (int block = 0; block < blocks; ++block) {
        double magnitude = 0;
        const float* plane = dy_float.data<float>() + static_cast<std::size_t>(block) * p.h * p.w;
        for (int e = 0; e < p.h * p.w; ++e) {
            magnitude += std::abs(plane[e]);
        }
        const float first_way = sums_host.data<float>()[2 * block];
        const float second_way = sums_host.data<float>()[2 * block + 1];
        if (std::abs(first_way - second_way) > 1e-5 * magnitude) {
            ADD_FAILURE() << describe(p, threads) << ": block " << block << ": sum(dy) "
                          << first_way << " staged first, " << second_way << " one pass";
            return false;
        }
    }
    return true;
}

using StagingPaths = wtconv::test::CudaTest;

// Random whole planes that stage_whole_plane_x_and_dy takes, sizes 1 to 72 rows, every block
// size the kernels use and more, every level count the fused kernels take.
template <class S>
void check_x_and_dy_random_planes(unsigned seed, int count) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> any(0, 1 << 30);
    const int ks[] = {3, 5, 7};
    const int block_sizes[] = {32, 64, 96, 128, 256, 320, 384};
    int checked = 0, deep = 0, odd = 0;
    while (checked < count) {
        const int k = ks[any(rng) % 3];
        const int levels = 1 + any(rng) % 4;
        const int h = 1 + any(rng) % 72, w = 4 * (1 + any(rng) % 18);
        const int n = 1 + any(rng) % 2, c = 1 + any(rng) % 2;
        const FusedPlan p = choose_fused_plan(n, c, h, w, k, levels, 1, FusedPass::kWeightGrad);
        if (p.smem_floats == 0 || !fused::whole_plane_x_and_dy_stageable(p) ||
            p.grad_smem_floats * sizeof(float) > 200 * 1024) {
            continue;
        }
        deep += levels >= 3 ? 1 : 0;  // a level built after the one pass
        odd += h % 2 == 1 ? 1 : 0;
        if (!same_x_and_dy_both_ways<S>(p, block_sizes[any(rng) % 7], rng)) {
            return;  // one failure says it all
        }
        ++checked;
    }
    EXPECT_GT(deep, count / 5) << "too few planes with levels past the one pass";
    EXPECT_GT(odd, count / 10) << "too few planes of odd height";
}

TEST_F(StagingPaths, WholePlaneXAndDyLeaveTheSameBitsFloat32) {
    check_x_and_dy_random_planes<float>(20261128u, 300);
}

TEST_F(StagingPaths, WholePlaneXAndDyLeaveTheSameBitsBfloat16) {
    check_x_and_dy_random_planes<__nv_bfloat16>(20261129u, 150);
}

TEST_F(StagingPaths, WholePlaneXAndDyLeaveTheSameBitsFloat16) {
    check_x_and_dy_random_planes<__half>(20261130u, 150);
}

TEST_F(StagingPaths, OnePassStagingLeavesTheSameBitsFloat32) {
    check_random_plans<float>(20261125u, 600);
}

TEST_F(StagingPaths, OnePassStagingLeavesTheSameBitsFloat16) {
    check_random_plans<__half>(20261126u, 300);
}

TEST_F(StagingPaths, OnePassStagingLeavesTheSameBitsBfloat16) {
    check_random_plans<__nv_bfloat16>(20261127u, 300);
}

// The benchmark shapes' plans, each pass, all three storage types.
TEST_F(StagingPaths, BenchmarkShapesLeaveTheSameBits) {
    struct Shape {
        int n, c, h, w, k, levels;
    };
    const Shape shapes[] = {{2, 2, 64, 64, 5, 1},    {2, 2, 64, 64, 5, 3},   {2, 2, 56, 56, 5, 3},
                            {2, 2, 28, 28, 5, 2},    {1, 2, 256, 256, 5, 3}, {2, 2, 64, 64, 7, 2},
                            {1, 1, 1000, 1000, 3, 4}};
    std::mt19937 rng(7);
    for (const Shape& s : shapes) {
        for (const FusedPass pass : {FusedPass::kForward, FusedPass::kWeightGrad}) {
            const FusedPlan p = choose_fused_plan(s.n, s.c, s.h, s.w, s.k, s.levels, 1, pass);
            ASSERT_GT(p.smem_floats, 0);
            ASSERT_TRUE(fused::first_level_fusable(p, false));
            const int threads = pass == FusedPass::kForward ? p.threads : p.grad_threads;
            EXPECT_TRUE(staging_matches<float>(p, threads, rng));
            EXPECT_TRUE(staging_matches<__half>(p, threads, rng));
            EXPECT_TRUE(staging_matches<__nv_bfloat16>(p, threads, rng));
        }
    }
}

}  // namespace
}  // namespace wtconv::cuda
