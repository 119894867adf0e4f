// Host side of the fused kernels' geometry (cuda/wtconv2d_fused_plan.h).
#include "cuda/wtconv2d_fused_plan.h"

#include <algorithm>

namespace wtconv::cuda {

namespace {

// Shared memory per block the plans may use. Forward: at most 110 KB keeps two blocks on each SM
// (228 KB, 1 KB a block reserved), so one block's barriers overlap another's loads; it fits
// 64-pixel tiles at K5 L3. Weight gradients hold x's pyramid and dy's (on the tile, without the
// halo); one block per SM is accepted there (the limit is 227 KB).
constexpr int kForwardBudgetFloats = 110 * 1024 / 4;
constexpr int kGradBudgetFloats = 200 * 1024 / 4;

int budget(FusedPass pass) {
    return pass == FusedPass::kForward ? kForwardBudgetFloats : kGradBudgetFloats;
}
int floats_of(const FusedPlan& p, FusedPass pass) {
    return pass == FusedPass::kForward ? p.smem_floats : p.grad_smem_floats;
}

int round_up(std::int64_t v, std::int64_t m) {
    return static_cast<int>((v + m - 1) / m * m);
}

// Blocks of `floats` dynamic shared floats an H100 SM holds: 228 KB, 1 KB a block reserved, and
// the weight-gradient kernel's static scratch (counted for both kernels: a plan at the edge, as
// 56x56 L3's weight gradient once was with 288 bytes to spare, must not lose a block to it).
int blocks_per_sm(int floats) {
    return 228 * 1024 / (floats * 4 + 1024 + kFusedReduceScratch * 4);
}

// The forward's smallest block: 64 threads keep a small plane's idle lanes out of the last phase
// (28x28 L2: 56 tasks; 64-thread blocks ran 20 % faster than 128-thread ones, H100 2026-11-23),
// but where shared memory holds only a few blocks an SM, 2-warp blocks leave it nearly empty
// (256x256 K5 L3 on 32-pixel tiles: 64 threads took 1.46 ms against 0.48 ms now).
int min_forward_threads(int smem_floats) {
    return blocks_per_sm(smem_floats) * kFusedMinThreads / 32 >= kFusedWarpsPerSm
               ? kFusedMinThreads
               : kFusedFewBlocksMinThreads;
}

// Blocks per channel of the weight-gradient kernel: the count whose grid would finish first if
// each wave filled kFusedGradWaveSms SMs with the blocks an SM holds and a block took its items
// plus one for its closing reduction; the fewest blocks among equals. A partly filled last wave
// costs as much as a full one: about 1024 blocks ran 2.4 waves at 28x28 L2 and 56x56 L3 (13 and 7
// items a block), where one wave (2 and 4 blocks a channel) was 7-11 % faster forward+backward
// (H100, 2026-11-25). Larger counts only add waves, so the search stops at two waves' worth.
int grad_groups_for(const FusedPlan& p) {
    const int per_sm =
        std::min(blocks_per_sm(p.grad_smem_floats), 65536 / (kFusedGradRegisters * p.grad_threads));
    const long long slots = std::max(1, kFusedGradWaveSms * per_sm);
    const int items = p.n * p.tiles_h * p.tiles_w;
    int best = 1;
    long long best_cost = 0;
    for (int g = 1; g <= items && g <= 2 * slots; ++g) {
        const long long waves = (static_cast<long long>(g) * p.c + slots - 1) / slots;
        const long long cost = waves * ((items + g - 1) / g + 1);
        if (g == 1 || cost < best_cost) {
            best = g;
            best_cost = cost;
        }
    }
    return best;
}

// The first float at or past `offset` where a level's arrays may start so that every window the
// kernels read, which starts ext - r columns into a row, starts 16-byte aligned (the pitches are
// multiples of 4 floats): its rows are read by 16-byte loads.
int window_aligned_offset(int offset, int ext, int r) {
    return round_up(offset, 4) + ((r - ext) % 4 + 4) % 4;
}

// The pitch of a level whose windows cover `cols` columns (tile columns tw plus the halos): every
// strip's window row, loaded whole (load_window_row), inside the row. Strips of kFusedStrip
// outputs over tw columns (the deep levels, the weight gradients, level 1 and the L = 0 base in the
// last phase) and, at level 0 with levels, strips of kFusedFinishCols pixels over the tasks of
// the last phase (finish_task: kFusedStrip level-1 positions, tw / 2 of them). Windows start
// ext - K / 2 columns into the row.
int level_pitch(int tw, int cols, int ext, int k, bool finish_base) {
    const int start = ext - k / 2;
    int end = start + (tw - 1) / kFusedStrip * kFusedStrip + whole_loads(kFusedStrip + k - 1);
    if (finish_base) {
        const int tasks_per_row = (tw / 2 + kFusedStrip - 1) / kFusedStrip;
        end = std::max(end, start + (tasks_per_row - 1) * kFusedFinishCols +
                                whole_loads(kFusedFinishCols + k - 1));
    }
    return vector_pitch(std::max(cols, end));
}

}  // namespace

FusedPlan make_fused_plan(std::int64_t n,
                          std::int64_t c,
                          std::int64_t h,
                          std::int64_t w,
                          int k,
                          int levels,
                          int stride,
                          int tile,
                          bool narrow_level0) {
    FusedPlan p{};
    p.n = static_cast<int>(n);
    p.c = static_cast<int>(c);
    p.h = static_cast<int>(h);
    p.w = static_cast<int>(w);
    p.stride = stride;
    p.ho = static_cast<int>((h - 1) / stride + 1);
    p.wo = static_cast<int>((w - 1) / stride + 1);
    p.k = k;
    p.levels = levels;
    const int unit = 1 << levels;
    p.padded_h = round_up(h, unit);
    p.padded_w = round_up(w, unit);
    p.whole_plane = tile <= 0 || (tile >= p.padded_h && tile >= p.padded_w);
    p.tile_h = p.whole_plane ? p.padded_h : tile;
    p.tile_w = p.whole_plane ? p.padded_w : tile;
    p.tiles_h = (p.padded_h + p.tile_h - 1) / p.tile_h;
    p.tiles_w = (p.padded_w + p.tile_w - 1) / p.tile_w;
    const int r = k / 2;
    // only where the weight-gradient kernel stages level 1 from the image, not from level 0's array
    p.grad_narrow_level0 = narrow_level0 && !p.whole_plane && fused::first_level_fusable(p, false);
    int offset = 0;
    for (int m = 0; m <= levels; ++m) {
        FusedLevel& lv = p.level[m];
        lv.ext = p.whole_plane || (m == 0 && p.grad_narrow_level0) ? r : r << (levels - m);
        lv.rows = (p.tile_h >> m) + 2 * lv.ext;
        lv.cols = (p.tile_w >> m) + 2 * lv.ext;
        lv.pitch = level_pitch(p.tile_w >> m, lv.cols, lv.ext, k, m == 0 && levels > 0);
        lv.offset = window_aligned_offset(offset, lv.ext, r);
        offset = lv.offset + (m == 0 ? 1 : 4) * lv.rows * lv.pitch;
    }
    p.recon_even_offset = offset;
    offset += levels > 2 ? (p.tile_h / 4) * odd_pitch(p.tile_w / 4) : 0;
    p.recon_offset = offset;
    offset += levels > 1 ? (p.tile_h / 2) * odd_pitch(p.tile_w / 2) : 0;
    p.weights_offset = offset;
    offset += (1 + 4 * levels) * k * k + 4 * levels + 2;
    offset = round_up(offset, 4);
    p.prescaled_offset = offset;
    offset += levels > 0 ? (1 + 4 * levels) * round_up(k * k, 4) : 0;
    // With levels, the last phase stores y straight from registers; without, the finished tile
    // goes through shared memory to be stored row by row.
    p.out_offset = offset;
    if (levels == 0) {
        offset += p.tile_h * odd_pitch(p.tile_w);
    }
    p.smem_floats = offset;
    p.threads = kFusedThreads;
    if (levels > 0) {  // one thread per task of the last phase, when a block can hold them all
        const int tasks = (p.tile_h / 2) * ((p.tile_w / 2 + kFusedStrip - 1) / kFusedStrip);
        const int rounded = (tasks + 31) / 32 * 32;
        p.threads = std::clamp(rounded, min_forward_threads(p.smem_floats), kFusedMaxThreads);
    }
    // The weight-gradient kernel keeps x's pyramid and puts dy's where the forward's own regions
    // (reconstructions, weights) were: 56x56 K5 L3 then takes 70.8 KB, three blocks an SM
    // instead of two.
    offset = round_up(p.recon_even_offset, 4);
    for (int m = 0; m <= levels; ++m) {
        p.grad_pitch[m] = vector_pitch(p.tile_w >> m);
        p.grad_offset[m] = offset;
        offset += (m == 0 ? 1 : 4) * (p.tile_h >> m) * p.grad_pitch[m];
    }
    // 384 threads where the arrays leave room for only two blocks an SM (counted on the arrays:
    // the partials' scratch below, grad_threads x K floats, only exceeds them on tiny tiles)
    p.grad_threads = blocks_per_sm(offset) <= 2 ? kFusedGradThreads : kFusedThreads;
    // the end of the weight-gradient kernel reuses the arrays for grad_threads x K partials
    p.grad_smem_floats = std::max(offset, p.grad_threads * k);
    // the next item's raw planes, where they cost no block an SM (the registers' limit included)
    p.grad_raw_offset = round_up(offset, 4);
    const int with_raw = std::max(p.grad_raw_offset + 2 * p.h * p.w, p.grad_threads * k);
    const int register_blocks = 65536 / (kFusedGradRegisters * p.grad_threads);
    p.grad_prefetch = p.whole_plane && fused::first_level_fusable(p, false) && stride == 1 &&
                      std::min(blocks_per_sm(with_raw), register_blocks) >=
                          std::min(blocks_per_sm(p.grad_smem_floats), register_blocks);
    if (p.grad_prefetch) {
        p.grad_smem_floats = with_raw;
    }
    p.grad_groups = grad_groups_for(p);
    return p;
}

FusedPlan choose_fused_plan(std::int64_t n,
                            std::int64_t c,
                            std::int64_t h,
                            std::int64_t w,
                            int k,
                            int levels,
                            int stride,
                            FusedPass pass) {
    if (levels > kFusedMaxLevels) {
        return FusedPlan{};
    }
    // a plane larger than the budget cannot be a whole-plane tile (and its offsets would
    // overflow int)
    const std::int64_t unit = std::int64_t{1} << levels;
    const std::int64_t area = (h + unit - 1) / unit * unit * ((w + unit - 1) / unit * unit);
    if (area <= budget(pass)) {
        const FusedPlan whole = make_fused_plan(n, c, h, w, k, levels, stride, 0);
        if (floats_of(whole, pass) <= budget(pass)) {
            return whole;
        }
    }
    // the tile as with level 0's whole window: the narrowed level 0 would let K3 L5 and K5 L4 take
    // 64-pixel tiles at one block an SM instead of 32-pixel ones at two, which is unmeasured
    for (int tile = 128; tile >= std::max(8, 1 << levels); tile /= 2) {
        const FusedPlan tiled = make_fused_plan(n, c, h, w, k, levels, stride, tile);
        if (floats_of(tiled, pass) <= budget(pass)) {
            return pass == FusedPass::kWeightGrad
                       ? make_fused_plan(n, c, h, w, k, levels, stride, tile, true)
                       : tiled;
        }
    }
    return FusedPlan{};
}

bool fused_plan_exists(int k, int levels) {
    if (levels > kFusedMaxLevels || !fused_kernel_size(k)) {
        return false;
    }
    const int tile = std::max(8, 1 << levels);
    // an image larger than the tile, so the plan is tiled
    const FusedPlan p = make_fused_plan(1, 1, 2 * tile, 2 * tile, k, levels, 1, tile);
    return p.smem_floats <= kForwardBudgetFloats && p.grad_smem_floats <= kGradBudgetFloats;
}

}  // namespace wtconv::cuda
