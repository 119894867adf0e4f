// test_wtconv_cuda (host only, no GPU needed): the fused WTConv2d kernels' plan
// (cuda/wtconv2d_fused_plan.h) keeps every shared-memory window its kernels read inside its
// array, its arrays apart, and its block sizes within what the kernels are compiled for, over
// kernel sizes, levels, strides and image sizes past every tile edge.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cuda/wtconv2d_fused_plan.h"
#include "wtconv_fused_plan_text.h"

namespace wtconv::cuda {
namespace {

struct Span {
    long long first, end;  // [first, end) in floats
    std::string name;
};

// The forward's arrays as spans, in layout order.
std::vector<Span> forward_spans(const FusedPlan& p) {
    std::vector<Span> spans;
    for (int m = 0; m <= p.levels; ++m) {
        const FusedLevel& lv = p.level[m];
        spans.push_back({lv.offset, lv.offset + (m == 0 ? 1LL : 4LL) * lv.rows * lv.pitch,
                         "level " + std::to_string(m)});
    }
    if (p.levels > 2) {
        spans.push_back(
            {p.recon_even_offset,
             p.recon_even_offset + static_cast<long long>(p.tile_h / 4) * odd_pitch(p.tile_w / 4),
             "even levels' recon"});
    }
    if (p.levels > 1) {
        spans.push_back(
            {p.recon_offset,
             p.recon_offset + static_cast<long long>(p.tile_h / 2) * odd_pitch(p.tile_w / 2),
             "recon"});
    }
    const long long weights = (1LL + 4 * p.levels) * p.k * p.k + 4 * p.levels + 2;
    spans.push_back({p.weights_offset, p.weights_offset + weights, "weights"});
    if (p.levels > 0) {
        const int padded = (p.k * p.k + 3) / 4 * 4;
        spans.push_back({p.prescaled_offset, p.prescaled_offset + (1LL + 4 * p.levels) * padded,
                         "prescaled kernels"});
    } else {
        spans.push_back({p.out_offset,
                         p.out_offset + static_cast<long long>(p.tile_h) * odd_pitch(p.tile_w),
                         "staged tile"});
    }
    return spans;
}

// Every (row, column) a K x K correlation reads for `strips` strips of `strip` outputs side by
// side, output rows [row0, row0 + rows), its window starting at (row0, col0): inside the level's
// rows x pitch. A window row is read by whole 16-byte loads (load_window_row: strip + K - 1 floats
// rounded up to 4), each starting 16-byte aligned.
static_assert(kFusedStrip % 4 == 0 && kFusedFinishCols % 4 == 0, "strips start 16-byte aligned");

void expect_window_inside(const FusedLevel& lv,
                          int row0,
                          int col0,
                          int rows,
                          int strips,
                          int strip,
                          int k,
                          const std::string& what) {
    const int loaded = (strip + k - 1 + 3) / 4 * 4;
    EXPECT_GE(row0, 0) << what;
    EXPECT_GE(col0, 0) << what;
    EXPECT_LE(row0 + rows - 1 + k - 1, lv.rows - 1) << what << ": rows";
    EXPECT_LE(col0 + (strips - 1) * strip + loaded - 1, lv.pitch - 1) << what << ": columns";
    EXPECT_EQ(lv.pitch % 4, 0) << what << ": 16-byte loads on every row";
    EXPECT_EQ((lv.offset + col0) % 4, 0) << what << ": 16-byte loads from the first column";
}

// The weight-gradient kernel's own arrays (dy and its pyramid on the tile, no halo) after x's
// pyramid, and the windows it correlates over every level.
void check_grad_plan(const FusedPlan& p, const std::string& name) {
    EXPECT_LE(p.grad_smem_floats * 4, 200 * 1024) << name;
    const FusedLevel& last = p.level[p.levels];
    long long end = last.offset + (p.levels == 0 ? 1LL : 4LL) * last.rows * last.pitch;
    for (int m = 0; m <= p.levels; ++m) {
        const int th = p.tile_h >> m, tw = p.tile_w >> m;
        const int strips = (tw + kFusedStrip - 1) / kFusedStrip;
        EXPECT_GE(p.grad_offset[m], end) << name << " dy level " << m;
        EXPECT_GE(p.grad_pitch[m], strips * kFusedStrip) << name << " dy level " << m;
        // dy strips are read by 16-byte loads
        EXPECT_EQ(p.grad_pitch[m] % 4, 0) << name << " dy level " << m;
        EXPECT_EQ(p.grad_offset[m] % 4, 0) << name << " dy level " << m;
        end = p.grad_offset[m] + (m == 0 ? 1LL : 4LL) * th * p.grad_pitch[m];
        const FusedLevel& lv = p.level[m];
        const int before = (p.k - 1) / 2;
        expect_window_inside(lv, lv.ext - before, lv.ext - before, th, strips, kFusedStrip, p.k,
                             name + " correlation level " + std::to_string(m));
    }
    EXPECT_LE(end, p.grad_smem_floats) << name;
    EXPECT_TRUE(p.grad_threads == kFusedThreads || p.grad_threads == kFusedGradThreads) << name;
    EXPECT_GE(p.grad_smem_floats, p.grad_threads * p.k) << name << ": reduction scratch";
    EXPECT_GE(p.grad_threads / p.k, 1 + 4 * p.levels) << name << ": a thread row per conv";
    const int items = p.n * p.tiles_h * p.tiles_w;
    EXPECT_GE(p.grad_groups, 1) << name;
    EXPECT_LE(p.grad_groups, items) << name;
}

void check_plan(const FusedPlan& p, FusedPass pass) {
    const std::string name = describe_plan(p);
    const int unit = 1 << p.levels, r = p.k / 2;
    ASSERT_GT(p.smem_floats, 0) << name;
    EXPECT_EQ(p.tile_h % unit, 0) << name;
    EXPECT_EQ(p.tile_w % unit, 0) << name;
    EXPECT_GE(static_cast<long long>(p.tiles_h) * p.tile_h, p.padded_h) << name;
    EXPECT_GE(static_cast<long long>(p.tiles_w) * p.tile_w, p.padded_w) << name;

    // arrays in order, apart, within the forward's shared memory
    const std::vector<Span> spans = forward_spans(p);
    for (std::size_t i = 0; i < spans.size(); ++i) {
        EXPECT_LE(spans[i].first, spans[i].end) << name << " " << spans[i].name;
        EXPECT_LE(spans[i].end, p.smem_floats) << name << " " << spans[i].name;
        if (i > 0) {
            EXPECT_LE(spans[i - 1].end, spans[i].first)
                << name << ": " << spans[i - 1].name << " overlaps " << spans[i].name;
        }
    }
    if (pass == FusedPass::kForward) {
        EXPECT_LE(p.smem_floats * 4, 110 * 1024) << name;
    } else {
        check_grad_plan(p, name);
    }
    EXPECT_EQ(p.prescaled_offset % 4, 0) << name << ": 16-byte loads";

    // block sizes: multiples of 32 (reconstruct_from_level's shuffles), within the launch bounds
    EXPECT_EQ(p.threads % 32, 0) << name;
    EXPECT_GE(p.threads, p.levels > 0 ? kFusedMinThreads : kFusedThreads) << name;
    EXPECT_LE(p.threads, kFusedMaxThreads) << name;

    // the windows every phase of the forward reads, for both `before` of an odd K (forward and
    // adjoint)
    for (const int before : {(p.k - 1) / 2, p.k / 2}) {
        for (int m = 2; m <= p.levels; ++m) {  // reconstruct_from_level: strips of kFusedStrip
            const FusedLevel& lv = p.level[m];
            const int th = p.tile_h >> m, tw = p.tile_w >> m;
            const int strips = (tw + kFusedStrip - 1) / kFusedStrip;
            expect_window_inside(lv, lv.ext - before, lv.ext - before, th, strips, kFusedStrip, p.k,
                                 name + " filter level " + std::to_string(m));
        }
        if (p.levels > 0) {  // the finishing phase: 4 level-1 positions, 2 x 8 pixels a task
            const int th = p.tile_h / 2, tw = p.tile_w / 2;
            const int strips = (tw + kFusedStrip - 1) / kFusedStrip;
            expect_window_inside(p.level[1], p.level[1].ext - before, p.level[1].ext - before, th,
                                 strips, kFusedStrip, p.k, name + " finish bands");
            expect_window_inside(p.level[0], p.level[0].ext - before, p.level[0].ext - before,
                                 2 * th, strips, kFusedFinishCols, p.k, name + " finish base");
            // the finished tile staged over x's array (finish_tile_with_levels)
            EXPECT_LE(odd_pitch(strips * kFusedFinishCols), p.level[0].pitch) << name;
            EXPECT_LE(p.tile_h, p.level[0].rows) << name;
        } else {
            const int strips = (p.tile_w + kFusedStrip - 1) / kFusedStrip;
            expect_window_inside(p.level[0], p.level[0].ext - before, p.level[0].ext - before,
                                 p.tile_h, strips, kFusedStrip, p.k, name + " base");
        }
    }
    // halos: whole planes need R at every level, tiles R 2^(L - m), but for a weight-gradient
    // plan's level 0 where x's level 1 is staged from the image (R: the base correlation's reach)
    EXPECT_EQ(p.grad_narrow_level0,
              pass == FusedPass::kWeightGrad && !p.whole_plane && p.levels >= 1 && p.w % 4 == 0)
        << name;
    for (int m = 0; m <= p.levels; ++m) {
        const bool narrow = m == 0 && p.grad_narrow_level0;
        EXPECT_EQ(p.level[m].ext, p.whole_plane || narrow ? r : r << (p.levels - m)) << name;
        // whole planes' arrays are zeroed by 16-byte stores (stage_whole_plane_levels)
        if (p.whole_plane) {
            EXPECT_EQ(p.level[m].offset % 4, 0) << name << " level " << m;
            EXPECT_EQ(p.level[m].pitch % 4, 0) << name << " level " << m;
        }
    }
}

TEST(WTConvFusedPlan, WindowsArraysAndBlocksFitForEveryShapeClass) {
    const int sizes[] = {1, 2, 3, 7, 8, 13, 28, 31, 56, 63, 64, 65, 97, 128, 129, 200, 256};
    int plans = 0, tiled = 0;
    for (const int k : {3, 5, 7}) {
        for (int levels = 0; levels <= kFusedMaxLevels; ++levels) {
            if (!fused_plan_exists(k, levels)) {
                continue;
            }
            for (const int h : sizes) {
                for (const int w : sizes) {
                    for (const int stride : {1, 2, 3}) {
                        for (const FusedPass pass : {FusedPass::kForward, FusedPass::kWeightGrad}) {
                            const FusedPlan p =
                                choose_fused_plan(2, 3, h, w, k, levels, stride, pass);
                            check_plan(p, pass);
                            ++plans;
                            tiled += p.whole_plane ? 0 : 1;
                            if (HasFailure()) {
                                return;  // one broken plan says enough
                            }
                        }
                    }
                }
            }
        }
    }
    // the grid reaches both modes
    EXPECT_GT(tiled, 0);
    EXPECT_GT(plans - tiled, 0);
}

// Occupancy the plan's comments and the performance docs rely on, at three benchmark shapes: 28x28
// L2 forward blocks of 64 threads (an SM holds 13 by shared memory), 63x65 L2 forward blocks of
// 288 threads (one round of the last phase), and 56x56 L3 weight-gradient blocks of 256 threads
// that fit three an SM (228 KB; 1 KB reserved and 128 B of static scratch a block), with 12 KB to
// spare.
TEST(WTConvFusedPlan, BenchmarkShapesKeepTheirBlocksAnSm) {
    const FusedPlan small = choose_fused_plan(64, 192, 28, 28, 5, 2, 1, FusedPass::kForward);
    EXPECT_EQ(small.threads, 64);
    // 63x65 is a 64x68 plane: 32 level-1 rows of 9 strips, every task its own thread
    const FusedPlan odd = choose_fused_plan(16, 64, 63, 65, 5, 2, 1, FusedPass::kForward);
    EXPECT_EQ(odd.threads, 288);
    const FusedPlan grad = choose_fused_plan(64, 96, 56, 56, 5, 3, 1, FusedPass::kWeightGrad);
    EXPECT_EQ(grad.grad_threads, kFusedThreads);
    EXPECT_LE(3 * (grad.grad_smem_floats * 4 + 1024 + kFusedReduceScratch * 4), 228 * 1024);
}

// The weight gradient's blocks per channel: one wave of 132 x 3 slots where the channels allow it
// (28x28 and 56x56 as measured), more where a single wave would leave half of them idle (200
// channels: 1000 blocks of 12-13 items in three waves, not 200 of 64), and a block a channel where
// the channels alone fill the slots.
TEST(WTConvFusedPlan, WeightGradientGroupsFillWholeWaves) {
    const auto groups = [](int n, int c, int h, int w, int k, int levels) {
        return choose_fused_plan(n, c, h, w, k, levels, 1, FusedPass::kWeightGrad).grad_groups;
    };
    EXPECT_EQ(groups(64, 192, 28, 28, 5, 2), 2);
    EXPECT_EQ(groups(64, 96, 56, 56, 5, 3), 4);
    EXPECT_EQ(groups(16, 64, 64, 64, 5, 1), 6);
    EXPECT_EQ(groups(8, 64, 256, 256, 5, 3), 4);
    EXPECT_EQ(groups(64, 200, 28, 28, 5, 2), 5);
    EXPECT_EQ(groups(4, 200, 8, 8, 3, 1), 1);
}

// The weight gradient prefetches the next whole plane's raw x and dy only where they cost no
// block an SM: 28x28 L2 (27.7 KB, still three blocks) and the tiny planes of the CUDA edge cases
// that walk four planes a block, not 56x56 L3 or 64x64 (three blocks would become two) nor tiles.
TEST(WTConvFusedPlan, WeightGradientPrefetchesWhereNoBlockIsLost) {
    const auto plan = [](int n, int c, int h, int w, int k, int levels, int stride) {
        return choose_fused_plan(n, c, h, w, k, levels, stride, FusedPass::kWeightGrad);
    };
    const FusedPlan small = plan(64, 192, 28, 28, 5, 2, 1);
    EXPECT_TRUE(small.grad_prefetch);
    EXPECT_EQ(small.grad_raw_offset % 4, 0);  // 16-byte copies
    EXPECT_LE(small.grad_raw_offset + 2 * 28 * 28, small.grad_smem_floats);
    EXPECT_LE(3 * (small.grad_smem_floats * 4 + 1024 + kFusedReduceScratch * 4), 228 * 1024);
    EXPECT_TRUE(plan(4, 200, 8, 8, 3, 1, 1).grad_prefetch);
    EXPECT_TRUE(plan(4, 200, 16, 16, 3, 3, 1).grad_prefetch);
    EXPECT_FALSE(plan(64, 96, 56, 56, 5, 3, 1).grad_prefetch);
    EXPECT_FALSE(plan(16, 64, 64, 64, 5, 1, 1).grad_prefetch);
    EXPECT_FALSE(plan(8, 64, 256, 256, 5, 3, 1).grad_prefetch);
    EXPECT_FALSE(plan(64, 192, 28, 28, 5, 2, 2).grad_prefetch);  // stride 2 stages dy apart
    EXPECT_FALSE(plan(64, 192, 28, 30, 5, 2, 1).grad_prefetch);  // rows not 16-byte multiples
}

// 256x256 K5 L3's weight gradient keeps x's level 0 on the tile plus R (68 x 68, not 96 x 96),
// which fits two blocks an SM (111 KB each) instead of one; rows that are no multiple of 4 pixels
// stage level 1 from level 0's array and keep its whole window.
TEST(WTConvFusedPlan, WeightGradientTilesKeepLevelZeroNarrow) {
    const FusedPlan p = choose_fused_plan(8, 64, 256, 256, 5, 3, 1, FusedPass::kWeightGrad);
    EXPECT_TRUE(p.grad_narrow_level0);
    EXPECT_EQ(p.tile_h, 64);
    EXPECT_EQ(p.level[0].ext, 2);
    EXPECT_EQ(p.level[0].rows, 68);
    EXPECT_EQ(p.level[1].ext, 8);  // level 1 keeps the deeper levels' halo
    EXPECT_EQ(p.grad_threads, kFusedGradThreads);
    EXPECT_LE(2 * (p.grad_smem_floats * 4 + 1024 + kFusedReduceScratch * 4), 228 * 1024);
    EXPECT_FALSE(
        choose_fused_plan(8, 64, 256, 254, 5, 3, 1, FusedPass::kWeightGrad).grad_narrow_level0);
    // the tile stays the one level 0's whole window allows (32 pixels at K3 L5 and K5 L4)
    for (const auto& [k, levels] : {std::pair<int, int>{3, 5}, std::pair<int, int>{5, 4}}) {
        const FusedPlan deep =
            choose_fused_plan(8, 64, 512, 512, k, levels, 1, FusedPass::kWeightGrad);
        EXPECT_TRUE(deep.grad_narrow_level0);
        EXPECT_EQ(deep.tile_h, 32) << "K" << k << " L" << levels;
    }
    EXPECT_FALSE(
        choose_fused_plan(8, 64, 256, 256, 5, 3, 1, FusedPass::kForward).grad_narrow_level0);
    EXPECT_FALSE(
        choose_fused_plan(8, 64, 56, 56, 5, 3, 1, FusedPass::kWeightGrad).grad_narrow_level0);
}

// A plane too large for any block's shared memory is tiled: its whole-plane offsets would overflow
// int (30000 x 30000 once gave a whole-plane weight-gradient plan of 4.5 KB).
TEST(WTConvFusedPlan, HugePlanesAreTiled) {
    for (const FusedPass pass : {FusedPass::kForward, FusedPass::kWeightGrad}) {
        const FusedPlan p = choose_fused_plan(1, 1, 30000, 30000, 3, 1, 1, pass);
        ASSERT_GT(p.smem_floats, 0);
        EXPECT_FALSE(p.whole_plane);
        EXPECT_EQ(p.tiles_h, (30000 + p.tile_h - 1) / p.tile_h);
        check_plan(p, pass);
    }
}

// The fused set the docs promise: K3 up to L5, K5 up to L4, K7 up to L3.
TEST(WTConvFusedPlan, DeepestLevelsThatFit) {
    const int deepest[] = {5, 4, 3};
    const int ks[] = {3, 5, 7};
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(fused_plan_exists(ks[i], deepest[i])) << "K" << ks[i];
        EXPECT_FALSE(fused_plan_exists(ks[i], deepest[i] + 1)) << "K" << ks[i];
    }
}

}  // namespace
}  // namespace wtconv::cuda
