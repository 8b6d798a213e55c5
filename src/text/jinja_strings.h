// Python's str semantics on UTF-8 strings, for the string methods and filters chat templates use.
//
// Templates are written against Python (transformers renders them with Jinja2), so lengths, indices and
// slices count code points, `strip()` strips Python's whitespace set, and `split()` without a separator
// splits on runs of whitespace. Case mapping uses utf8proc's simple (one code point to one) mappings,
// plus Python's "ß".upper() == "SS"; Python's other full mappings (ligatures like "ﬁ", "İ".lower())
// differ, and "ß" at the start of a title-cased word stays "ß" (Python: "Ss").
// Inputs must be valid UTF-8 (template sources and JSON inputs are checked before they get here).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prefer::text::jinja {

std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
void utf8_append(std::string& out, char32_t cp);
size_t code_point_count(std::string_view s);

// str.isspace() for one code point.
bool py_isspace(char32_t cp);
// str.isprintable() for one code point (what repr() leaves unescaped).
bool py_isprintable(char32_t cp);

// str.strip/lstrip/rstrip; `chars` = nullopt strips whitespace.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left = true, bool right = true);
// str.split(sep, maxsplit); sep = nullopt splits on whitespace runs. An empty sep is an EvalError.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit = -1);
// str.splitlines() (without keepends).
std::vector<std::string> py_splitlines(std::string_view s);
// str.replace(old, new, count); count < 0 replaces all.
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count = -1);
// str.find(sub): index in code points, -1 when absent.
int64_t py_find(std::string_view s, std::string_view sub);
// str.count(sub): non-overlapping occurrences.
int64_t py_count(std::string_view s, std::string_view sub);

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
// str.title(): a cased character after an uncased one is title-cased, every other one lower-cased.
std::string py_title(std::string_view s);
// str.capitalize(): first character title-cased, the rest lower-cased.
std::string py_capitalize(std::string_view s);
// str.islower() / str.isupper(): at least one cased character, and all cased ones in that case.
bool py_islower(std::string_view s);
bool py_isupper(std::string_view s);

// Jinja2's `title` filter, which is not str.title(): words start after whitespace or one of "-({[<",
// their first character is upper-cased and the rest lower-cased ("they're" -> "They're").
std::string jinja_title(std::string_view s);

// repr() of a str: single quotes unless the text has ' and no ", escapes for quotes, backslashes and
// unprintable characters.
std::string py_repr_string(std::string_view s);

}  // namespace prefer::text::jinja
