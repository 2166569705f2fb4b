"""Writes the programs suite's g++ input: a template-heavy C++20 translation unit (standard
containers, variant and tuple instantiated over many generated types, recursive and
variadic templates, constexpr evaluation). Usage: gen_cpp.py OUT.cc [TYPES]. Deterministic."""
import random
import sys


def main():
    out = sys.argv[1]
    types = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    rng = random.Random(5)
    c = ["#include <algorithm>", "#include <map>", "#include <unordered_map>", "#include <set>",
         "#include <string>", "#include <tuple>", "#include <variant>", "#include <vector>",
         "#include <optional>", "#include <functional>", "#include <memory>",
         "#include <numeric>", "",
         "template <int N> struct Fib {"
         " static constexpr long v = Fib<N - 1>::v + Fib<N - 2>::v; };",
         "template <> struct Fib<1> { static constexpr long v = 1; };",
         "template <> struct Fib<0> { static constexpr long v = 0; };",
         "template <typename... Ts> struct TypeList {};",
         "template <typename T, typename... Ts> constexpr auto sum_sizes(TypeList<T, Ts...>) {",
         "  if constexpr (sizeof...(Ts) == 0) return sizeof(T);",
         "  else return sizeof(T) + sum_sizes(TypeList<Ts...>{});",
         "}",
         "template <typename Key, typename Value> struct Table {",
         "  std::map<Key, std::vector<Value>> by_key;",
         "  std::unordered_map<std::string, std::optional<Value>> by_name;",
         "  void add(const Key& k, Value v) { by_key[k].push_back(std::move(v)); }",
         "  template <typename F> auto fold(F f) const {",
         "    std::vector<decltype(f(std::declval<const Value&>()))> out;",
         "    for (const auto& [k, vs] : by_key)",
         "      for (const auto& v : vs) out.push_back(f(v));",
         "    std::sort(out.begin(), out.end());",
         "    return out;",
         "  }",
         "};", ""]
    prims = ["int", "long", "double", "std::string", "char", "unsigned", "float", "short"]
    names = []
    for i in range(types):
        fields = [rng.choice(prims + names[-6:]) for _ in range(rng.randrange(2, 6))]
        n = "T%d" % i
        c.append("struct %s {" % n)
        for j, f in enumerate(fields):
            c.append("  %s f%d{};" % (f, j))
        c.append("  auto operator<=>(const %s&) const = default;" % n)
        c.append("  bool operator==(const %s&) const = default;" % n)
        c.append("};")
        names.append(n)
        v = ", ".join(rng.sample(names + prims[:4], min(len(names) + 4, 4)))
        c += ["inline auto use_%s() {" % n,
              "  Table<int, %s> t;" % n,
              "  t.add(%d, %s{});" % (i, n),
              "  std::variant<%s> var;" % v,
              "  std::tuple<%s, std::vector<%s>, std::set<%s>> tup;" % (n, n, n),
              "  auto r = t.fold([](const %s& x) { return sizeof(x); });" % n,
              "  constexpr long fib = Fib<%d>::v;" % (20 + i % 60),
              "  constexpr auto sz = sum_sizes(TypeList<%s>{});" % ", ".join(
                  rng.sample(names, min(len(names), 8))),
              "  auto sp = std::make_shared<std::map<std::string, %s>>();" % n,
              "  std::function<long(const %s&)> fn = [&](const %s&) { return fib + sz; };" % (n, n),
              "  return std::visit([&](const auto& a) { return sizeof(a) + r.size(); }, var)"
              " + std::get<1>(tup).size() + sp->size() + fn(%s{});" % n,
              "}"]
    c.append("long use_all() {")
    c.append("  long s = 0;")
    c += ["  s += static_cast<long>(use_%s());" % n for n in names]
    c += ["  return s;", "}", ""]
    with open(out, "w") as f:
        f.write("\n".join(c))


main()
