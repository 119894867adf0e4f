// Tests of the embedded wavelet table: bit-for-bit equal to pywt's coefficients in
// wavelets.json, well-formed, and served correctly by the public API in wtconv/wavelets.h.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wtconv/error.h>
#include <wtconv/wavelets.h>

#include "common/wavelet_filters.h"

#ifndef WTCONV_DEFAULT_GOLDEN_DIR
#error "WTCONV_DEFAULT_GOLDEN_DIR (a string literal, the project's tests/golden) must be defined"
#endif

namespace {

using wtconv::detail::WaveletTaps;

constexpr const char* kFilterNames[] = {"dec_lo", "dec_hi", "rec_lo", "rec_hi"};

std::string golden_dir() {
    const char* const env = std::getenv("WTCONV_GOLDEN_DIR");
    return (env != nullptr && env[0] != '\0') ? std::string(env)
                                              : std::string(WTCONV_DEFAULT_GOLDEN_DIR);
}

// Parsed once: nlohmann reads numbers with strtod, so these are the exact doubles pywt stored.
const nlohmann::json& golden() {
    static const nlohmann::json json = [] {
        const std::string path = golden_dir() + "/wavelets.json";
        std::ifstream in(path);
        if (!in) {
            ADD_FAILURE() << "cannot open " << path;
            return nlohmann::json::object();
        }
        return nlohmann::json::parse(in);
    }();
    return json;
}

const double* filter_of(const WaveletTaps& taps, int which) {
    const double* const filters[] = {taps.dec_lo, taps.dec_hi, taps.rec_lo, taps.rec_hi};
    return filters[which];
}

std::vector<const WaveletTaps*> all_taps() {
    std::vector<const WaveletTaps*> out;
    for (int i = 0; i < wtconv::detail::wavelet_table_size(); ++i) {
        out.push_back(&wtconv::detail::wavelet_table()[i]);
    }
    return out;
}

bool is_orthogonal_family(std::string_view name) {
    for (std::string_view prefix : {"db", "sym", "coif", "haar"}) {
        if (name.substr(0, prefix.size()) == prefix) {
            return true;
        }
    }
    return false;
}

TEST(WaveletTableGolden, NameSetsMatch) {
    const nlohmann::json& json = golden();
    ASSERT_TRUE(json.is_object());
    std::set<std::string> golden_names;
    for (const auto& item : json.items()) {
        golden_names.insert(item.key());
    }
    std::set<std::string> table_names;
    for (const WaveletTaps* taps : all_taps()) {
        table_names.insert(std::string(taps->name));
    }
    EXPECT_EQ(table_names.size(), static_cast<std::size_t>(wtconv::detail::wavelet_table_size()))
        << "the table holds a name twice";
    EXPECT_EQ(table_names, golden_names);
    EXPECT_EQ(golden_names.size(), 106u);
}

TEST(WaveletTableGolden, CoefficientsBitForBit) {
    const nlohmann::json& json = golden();
    int zeros_negative = 0;
    for (const WaveletTaps* taps : all_taps()) {
        const std::string name(taps->name);
        if (!json.contains(name)) {
            continue;  // reported by NameSetsMatch
        }
        for (int k = 0; k < 4; ++k) {
            const nlohmann::json& expected = json.at(name).at(kFilterNames[k]);
            ASSERT_EQ(expected.size(), static_cast<std::size_t>(taps->length))
                << name << "." << kFilterNames[k];
            const double* const got = filter_of(*taps, k);
            for (int i = 0; i < taps->length; ++i) {
                const double want = expected.at(static_cast<std::size_t>(i)).get<double>();
                // memcmp, not ==, so that -0.0 against 0.0 (equal as doubles) fails too.
                EXPECT_EQ(std::memcmp(&got[i], &want, sizeof(double)), 0)
                    << name << "." << kFilterNames[k] << "[" << i << "]: table " << got[i]
                    << ", json " << want;
                if (want == 0.0 && std::signbit(want)) {
                    ++zeros_negative;
                    EXPECT_TRUE(std::signbit(got[i])) << name << "." << kFilterNames[k] << i;
                }
            }
        }
    }
    // The file holds some -0.0; if none came through, the comparison above proved nothing about
    // signs.
    EXPECT_GT(zeros_negative, 0);
}

TEST(WaveletTableShape, SortedByteWise) {
    const std::vector<const WaveletTaps*> taps = all_taps();
    for (std::size_t i = 1; i < taps.size(); ++i) {
        EXPECT_LT(taps[i - 1]->name, taps[i]->name) << "entry " << i;
    }
}

TEST(WaveletTableShape, LengthsEvenAndEqual) {
    const nlohmann::json& json = golden();
    for (const WaveletTaps* taps : all_taps()) {
        EXPECT_GT(taps->length, 0) << taps->name;
        EXPECT_EQ(taps->length % 2, 0) << taps->name;
        const std::string name(taps->name);
        if (json.contains(name)) {
            // The table has one length for all four; the JSON must agree filter by filter.
            for (const char* filter : kFilterNames) {
                EXPECT_EQ(json.at(name).at(filter).size(), static_cast<std::size_t>(taps->length))
                    << name << "." << filter;
            }
        }
    }
}

TEST(WaveletTableShape, FindWaveletFindsEveryEntryAndOnlyThose) {
    for (const WaveletTaps* taps : all_taps()) {
        EXPECT_EQ(wtconv::detail::find_wavelet(taps->name), taps) << taps->name;
    }
    for (const char* bad : {"", "db", "db0", "db39", "DB1", "haar ", "zzz", "a", "bior2.2x"}) {
        EXPECT_EQ(wtconv::detail::find_wavelet(bad), nullptr) << '"' << bad << '"';
    }
}

TEST(WaveletTableApi, NamesAndIsWavelet) {
    const std::vector<std::string> names = wtconv::wavelet_names();
    ASSERT_EQ(names.size(), static_cast<std::size_t>(wtconv::detail::wavelet_table_size()));
    for (std::size_t i = 0; i < names.size(); ++i) {
        EXPECT_TRUE(wtconv::is_wavelet(names[i])) << names[i];
        if (i > 0) {
            EXPECT_LT(names[i - 1], names[i]);
        }
    }
    for (const char* name : {"haar", "db1", "db2", "sym3", "coif1", "bior2.2", "rbio3.1", "dmey"}) {
        EXPECT_TRUE(wtconv::is_wavelet(name)) << name;
    }
    EXPECT_FALSE(wtconv::is_wavelet("morl"));  // continuous, not in the table
    EXPECT_FALSE(wtconv::is_wavelet("Haar"));
    EXPECT_FALSE(wtconv::is_wavelet(""));
}

TEST(WaveletTableApi, FilterBankMatchesTable) {
    const nlohmann::json& json = golden();
    for (const std::string& name : wtconv::wavelet_names()) {
        const wtconv::WaveletFilterBank bank = wtconv::wavelet_filter_bank(name);
        EXPECT_EQ(bank.name, name);
        const std::vector<double>* const filters[] = {&bank.dec_lo, &bank.dec_hi, &bank.rec_lo,
                                                      &bank.rec_hi};
        for (int k = 0; k < 4; ++k) {
            if (!json.contains(name)) {
                continue;
            }
            const std::vector<double> want =
                json.at(name).at(kFilterNames[k]).get<std::vector<double>>();
            ASSERT_EQ(filters[k]->size(), want.size()) << name << "." << kFilterNames[k];
            EXPECT_EQ(std::memcmp(filters[k]->data(), want.data(), want.size() * sizeof(double)), 0)
                << name << "." << kFilterNames[k];
        }
    }
}

TEST(WaveletTableApi, HaarEqualsDb1) {
    const wtconv::WaveletFilterBank haar = wtconv::wavelet_filter_bank("haar");
    const wtconv::WaveletFilterBank db1 = wtconv::wavelet_filter_bank("db1");
    EXPECT_EQ(haar.name, "haar");
    EXPECT_EQ(haar.dec_lo, db1.dec_lo);
    EXPECT_EQ(haar.dec_hi, db1.dec_hi);
    EXPECT_EQ(haar.rec_lo, db1.rec_lo);
    EXPECT_EQ(haar.rec_hi, db1.rec_hi);
    EXPECT_EQ(haar.dec_lo.size(), 2u);
}

TEST(WaveletTableApi, UnknownNameThrowsBadArgument) {
    const std::string name = "db99x";
    try {
        wtconv::wavelet_filter_bank(name);
        FAIL() << "no exception for " << name;
    } catch (const wtconv::Error& e) {
        EXPECT_EQ(e.code(), wtconv::ErrorCode::kBadArgument);
        const std::string message = e.what();
        EXPECT_NE(message.find("\"" + name + "\""), std::string::npos) << message;
        EXPECT_EQ(message,
                  "wavelet: unknown name \"db99x\"; expected a discrete pywt wavelet such as db1, "
                  "db2, sym3, coif1, bior2.2 (see wavelet_names())");
    }
}

TEST(WaveletTableOrthogonality, LowpassHasUnitEnergy) {
    int checked = 0;
    for (const WaveletTaps* taps : all_taps()) {
        if (!is_orthogonal_family(taps->name)) {
            continue;
        }
        double energy = 0.0;
        for (int i = 0; i < taps->length; ++i) {
            energy += taps->dec_lo[i] * taps->dec_lo[i];
        }
        // pywt stores the symlets to about 12 digits, so exact 1 is not to be had.
        EXPECT_NEAR(energy, 1.0, 1e-9) << taps->name;
        ++checked;
    }
    // haar, db1..db38, sym2..sym20, coif1..coif17
    EXPECT_EQ(checked, 1 + 38 + 19 + 17);
}

}  // namespace
