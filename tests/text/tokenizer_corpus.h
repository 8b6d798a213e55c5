// The text corpus of the tokenizer reference checks: hand-picked cases for every tricky area, then
// deterministic random mixtures of them, >= 2,000 strings in all.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prefer::test {

inline std::vector<std::string> tokenizer_corpus_fragments() {
  return {
      "",
      " ",
      "  ",
      "\t",
      "\n",
      "\r\n",
      "The answer is short.",
      "Hello world",
      " leading space",
      "trailing space ",
      "multiple   spaces   inside",
      "tabs\tand\t\ttabs",
      "line one\nline two\n\nline four",
      "windows\r\nline\r\nendings\r\n",
      "mixed \t \n \r\n whitespace runs     ",
      "I'm sure you're right, they've said we'll go; it's John's and I'd know. DON'T SHOUT, I'M HERE",
      "Numbers: 7 42 123 1234 12345 3.14159 -0.5 1e-7 1,000,000",
      "A long digit run: 31415926535897932384626433832795028841971693993751058209749445923078164062862",
      "Phone +1 (555) 010-9999, card 4111 1111 1111 1111",
      "def f(x):\n    return x**2  # square\n",
      "for (int i = 0; i < n; ++i) { sum += a[i]; }",
      "<div class=\"note\">a &amp; b</div>",
      "SELECT * FROM users WHERE id = 42;",
      "https://example.com/path?q=1&lang=en#frag",
      "email: someone@example.org",
      "Café, naïve, façade, coöperate, Ångström",
      "Cafe\xCC\x81 (decomposed e + combining acute)",
      "Straße, groß, ẞ",
      "Ελληνικά: Καλημέρα κόσμε",
      "Русский текст: Привет, мир!",
      "Українська: Ґанок, їжак, є",
      "العربية: مرحبا بالعالم",
      "עברית: שלום עולם",
      "हिन्दी: नमस्ते दुनिया",
      "বাংলা: হ্যালো বিশ্ব",
      "ไทย: สวัสดีชาวโลก",
      "中文：你好，世界。这是一个测试。",
      "日本語：こんにちは世界、カタカナとひらがな。",
      "한국어: 안녕하세요 세계",
      "Tiếng Việt: Xin chào thế giới",
      "Türkçe: İstanbul ılık ışık",
      "emoji 😀😃😄 👍🏽 👋🏿",
      "family 👨‍👩‍👧‍👦 and woman technologist 👩‍💻 and rainbow flag 🏳️‍🌈",
      "flags 🇫🇷🇯🇵🇺🇸",
      "keycap 1️⃣ #️⃣",
      "zero\xE2\x80\x8Bwidth\xE2\x80\x8Cnon\xE2\x80\x8Djoiner",
      "\xEF\xBB\xBF" "BOM at start",
      "nbsp\xC2\xA0here and ideographic\xE3\x80\x80space",
      "control \x01\x02\x7F chars",
      "math ∑∫√∞ ≤ ≥ ≠ ± × ÷",
      "currency $5 €10 £3 ¥100 ₹50",
      "quotes “double” ‘single’ «guillemets» „low“",
      "dashes - – — and ellipsis …",
      "....!!!???,,,;;;:::",
      "ALL CAPS SENTENCE WITH WORDS",
      "CamelCaseIdentifierNames and snake_case_names",
      "a",
      "ab",
      "abc abc abc abc",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>",
      "text<|im_start|>glued<|im_end|>text",
      "<s>bos inside text</s> and <pad>",
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
      "<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n",
      "<think>\nreasoning\n</think>\n\nanswer",
      "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
      "almost special <|im_start and im_end|>",
      "  <|im_start|>  spaced special  <|im_end|>  ",
      "\n\n\n\n",
      "    indented code block",
      "\t\tdouble tab indent",
      "JSON {\"key\": [1, 2, {\"nested\": null}], \"ok\": true}",
      "x=1;y=2;z=x+y",
      "snake_case CONSTANT_VALUE kebab-case",
      "'s 't 're 've 'm 'll 'd",
      "O'Neil's rock'n'roll",
      "▁metaspace▁chars▁in▁text",
      "Ġbyte level lookalike Ċ",
      "the the the the the the the the",
      "Supercalifragilisticexpialidocious",
      "pneumonoultramicroscopicsilicovolcanoconiosis",
  };
}

// Hand-picked fragments plus mixtures of 1..5 of them joined by varied separators (fixed seed).
inline std::vector<std::string> tokenizer_corpus(size_t mixtures = 2000) {
  std::vector<std::string> base = tokenizer_corpus_fragments();
  std::vector<std::string> out = base;
  const char* seps[] = {" ", "", "\n", "  ", "\t", "\r\n", ". ", "\n\n", " - "};
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (size_t i = 0; i < mixtures; ++i) {
    size_t parts = 1 + next() % 5;
    std::string s;
    for (size_t k = 0; k < parts; ++k) {
      if (k > 0) s += seps[next() % std::size(seps)];
      s += base[next() % base.size()];
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace prefer::test
