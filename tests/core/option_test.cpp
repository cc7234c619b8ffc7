// The options convention: declared once, then validated, compared, read from and written to
// JSON from the same declarations.

#include "layerwatch/core/option.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/option_json.h"

namespace layerwatch {
namespace {

enum class Colour { kRed, kGreen, kBlue };
const char* to_string(Colour c) noexcept {
  return c == Colour::kRed ? "red" : c == Colour::kGreen ? "green" : "blue";
}

struct InnerOptions {
  LAYERWATCH_OPTIONS(InnerOptions);
  LAYERWATCH_OPTION(double, ratio, range_open_closed(0, 1)) = 0.5;
  LAYERWATCH_OPTION(Bytes, budget, at_least(1)) = Bytes{std::size_t{1} << 20};
  LAYERWATCH_OPTIONS_END();
};

struct OuterOptions {
  LAYERWATCH_OPTIONS(OuterOptions);
  LAYERWATCH_OPTION(int64_t, count, range(1, 64)) = 4;
  LAYERWATCH_OPTION(Colour, colour, one_of({Colour::kRed, Colour::kGreen})) = Colour::kRed;
  LAYERWATCH_OPTION(std::string, name, NonEmpty{}) = "x";
  LAYERWATCH_OPTION(std::vector<std::string>, tags, AnyValue{}) = {"a", "b"};
  LAYERWATCH_OPTION(InnerOptions, inner, AnyValue{}) = {};
  LAYERWATCH_OPTION(bool, on, AnyValue{}) = true;
  LAYERWATCH_OPTIONS_END();

  void check_relations() const {
    if (count_ > 8 && !on_) throw std::invalid_argument("OuterOptions: count above 8 needs on");
  }
};

std::string validation_error(const OuterOptions& o) {
  try {
    validate_options(o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

std::string json_error(const char* text) {
  try {
    OuterOptions o;
    detail::options_from_json<std::invalid_argument>(nlohmann::json::parse(text), o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Options, ChainedSettersCopyOrMoveAndGettersReachNestedOptions) {
  std::vector<std::string> tags{"p", "q"};
  auto o = OuterOptions().count(7).tags(tags).name(std::string("moved"));
  o.inner().ratio(0.25);
  EXPECT_EQ(o.count(), 7);
  EXPECT_EQ(o.tags(), tags);
  EXPECT_EQ(o.name(), "moved");
  EXPECT_EQ(o.inner().ratio(), 0.25);
}

TEST(Options, FieldsAreVisitedInDeclarationOrder) {
  std::vector<std::string> keys;
  detail::option_keys<OuterOptions>(keys);
  EXPECT_EQ(keys, (std::vector<std::string>{"count", "colour", "name", "tags", "inner.ratio",
                                            "inner.budget", "on"}));
}

TEST(Options, ValidationNamesTheStructTheKeyTheAllowedValuesAndTheValue) {
  EXPECT_EQ(validation_error(OuterOptions()), "");
  EXPECT_EQ(validation_error(OuterOptions().count(0)),
            "OuterOptions: count must be in [1, 64], got 0");
  EXPECT_EQ(validation_error(OuterOptions().colour(Colour::kBlue)),
            "OuterOptions: colour must be one of red, green, got blue");
  EXPECT_EQ(validation_error(OuterOptions().name("")),
            "OuterOptions: name must not be empty, got \"\"");
  auto o = OuterOptions();
  o.inner().ratio(0);
  EXPECT_EQ(validation_error(o), "OuterOptions: inner.ratio must be in (0, 1], got 0");
  EXPECT_EQ(validation_error(OuterOptions().count(9).on(false)),
            "OuterOptions: count above 8 needs on");
}

TEST(Options, JsonRoundTripKeepsEveryOption) {
  auto o = OuterOptions().count(12).colour(Colour::kGreen).name("y").tags({"t"}).on(true);
  o.inner().ratio(0.75).budget(Bytes{3u << 20});
  const auto json = detail::options_to_json(o);
  EXPECT_EQ(json["inner"]["budget"], "3 MiB");
  EXPECT_EQ(json["colour"], "green");
  OuterOptions back;
  detail::options_from_json<std::invalid_argument>(json, back);
  EXPECT_TRUE(options_equal(back, o));
  EXPECT_FALSE(options_equal(back, OuterOptions()));
}

TEST(Options, JsonErrorsNameTheKeyAndWhatIsAllowed) {
  EXPECT_EQ(json_error(R"({"count": 0})"), "key 'count': must be in [1, 64], got 0");
  EXPECT_EQ(json_error(R"({"count": "many"})"),
            "key 'count': must be an integer in [1, 64], got \"many\"");
  EXPECT_EQ(json_error(R"({"colour": "blue"})"),
            "key 'colour': must be one of red, green, got \"blue\"");
  EXPECT_EQ(json_error(R"({"inner": {"ratio": 2}})"),
            "key 'inner.ratio': must be in (0, 1], got 2");
  EXPECT_EQ(json_error(R"({"inner": 3})"), "key 'inner': must be an object, got 3");
  EXPECT_EQ(json_error(R"({"cuont": 3})"),
            "key 'cuont': unknown key; allowed keys are count, colour, name, tags, inner, on");
  EXPECT_EQ(json_error(R"({"inner": {"ratoi": 1}})"),
            "key 'inner.ratoi': unknown key; allowed keys here are ratio, budget");
  EXPECT_NE(json_error(R"({"tags": [1]})").find("array of strings"), std::string::npos);
  EXPECT_NE(json_error("[1]").find("must be a JSON object"), std::string::npos);
}

TEST(Options, BytesReadIntegersAndUnits) {
  const auto read = [](const char* text) {
    OuterOptions o;
    detail::options_from_json<std::invalid_argument>(nlohmann::json::parse(text), o);
    return o.inner().budget().value;
  };
  EXPECT_EQ(read(R"({"inner": {"budget": 1200}})"), 1200u);
  EXPECT_EQ(read(R"({"inner": {"budget": "64 KiB"}})"), 65536u);
  EXPECT_EQ(read(R"({"inner": {"budget": "1.5 GiB"}})"), std::size_t{3} << 29);
  EXPECT_EQ(read(R"({"inner": {"budget": "256MiB"}})"), std::size_t{256} << 20);
  EXPECT_NE(json_error(R"({"inner": {"budget": "lots"}})").find("\"256 MiB\""), std::string::npos);
  EXPECT_NE(json_error(R"({"inner": {"budget": -5}})").find("inner.budget"), std::string::npos);
  EXPECT_EQ(detail::bytes_to_json(Bytes{1200}), 1200);
  EXPECT_EQ(detail::bytes_to_json(Bytes{std::size_t{2} << 30}), "2 GiB");
}

}  // namespace
}  // namespace layerwatch
