// Reads the compiled-in field list and checks result lines against it. Layer: harness.
#include "harness/run/result_schema.h"

#include <limits>

#include "harness/result_fields_json.h"

namespace allocmark {
namespace {

bool has_type(const nlohmann::json& v, const std::string& type) {
  if (type == "string") return v.is_string();
  if (type == "int") return v.is_number_integer();
  if (type == "float") return v.is_number();
  if (type == "bool") return v.is_boolean();
  if (type == "object") return v.is_object();
  return false;
}

}  // namespace

const nlohmann::json& result_fields() {
  static const nlohmann::json fields = nlohmann::json::parse(kResultFieldsJson);
  return fields;
}

int result_schema_version() { return result_fields()["schema_version"].get<int>(); }

std::string check_result_line(const nlohmann::json& line) {
  if (!line.is_object()) return "expected a JSON object";
  for (const auto& f : result_fields()["fields"]) {
    const std::string name = f["name"].get<std::string>();
    const auto it = line.find(name);
    if (it == line.end()) {
      if (f["required"].get<bool>()) return "required field '" + name + "' is missing";
      continue;
    }
    const std::string type = f["type"].get<std::string>();
    if (!it->is_null() && !has_type(*it, type))
      return "field '" + name + "' must be " + type + ", got " + it->type_name();
  }
  return "";
}

const char* time_field(const nlohmann::json& line) {
  return line.is_object() && line.value("kind", "") == "program" ? "wall_ns" : "ns_per_op";
}

double line_time(const nlohmann::json& line) {
  const char* field = time_field(line);
  if (!line.is_object() || !line.contains(field) || !line[field].is_number())
    return std::numeric_limits<double>::quiet_NaN();
  return line[field].get<double>();
}

}  // namespace allocmark
