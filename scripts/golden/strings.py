"""Tokenizer test strings for Parley's golden data (see make_golden.py).

Each string is tokenized by llama.cpp twice: (add_special=True, parse_special=True) and
(add_special=False, parse_special=False). Keep the list stable: appending is fine, but
reordering or editing changes every golden file's diff.
No NUL characters (llama_tokenize takes a C string length, but NUL handling is not a goal).
"""

LONG_PARAGRAPH = (
    "The history of computing is a story of abstraction. Early machines were programmed by "
    "rewiring panels and flipping switches; later, stored-program computers let engineers "
    "write instructions as numbers in memory. Assembly languages gave those numbers names, "
    "and high-level languages such as FORTRAN, COBOL and Lisp let programmers describe what "
    "they wanted instead of how the hardware should do it. Each layer hid details of the one "
    "below, and each made it possible to build larger systems with fewer people. Today, a "
    "single developer can train a neural network on a laptop, deploy a web service to "
    "thousands of servers, or write a program that runs unchanged on a phone and a "
    "supercomputer. Yet the old layers never disappeared: somewhere underneath every "
    "elegant API, a processor is still fetching, decoding and executing instructions, one "
    "cycle at a time."
)

LONG_PARAGRAPH_2 = (
    "Tokenizers split text into pieces that a language model can look up in its vocabulary.\n"
    "Byte-pair encoding starts from bytes and repeatedly merges the most frequent adjacent pair; "
    "SentencePiece treats the input as a raw stream, replaces spaces with a visible marker, and "
    "learns a unigram or BPE model over it. Both approaches must handle rare words, numbers, "
    "emoji, and scripts without spaces, like Chinese or Thai, and both must round-trip exactly: "
    "decode(encode(x)) == x for every string x.\n\nThat last property is harder than it looks."
)

PY_CODE = '''def fibonacci(n: int) -> list[int]:
    """Return the first n Fibonacci numbers."""
    a, b = 0, 1
    out = []
    for _ in range(n):
        out.append(a)
        a, b = b, a + b
    return out


if __name__ == "__main__":
    print(fibonacci(10))  # [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]
'''

CPP_CODE = '''#include <iostream>
#include <vector>

template <typename T>
T sum(const std::vector<T>& v) {
    T acc{};
    for (auto& x : v) acc += x;
    return acc;
}

int main(int argc, char** argv) {
    std::vector<int> xs = {1, 2, 3};
    std::cout << sum(xs) << "\\n";
    return argc > 1 ? 1 : 0;
}
'''

JSON_CODE = (
    '{"name": "Parley", "version": "0.1.0", "tags": ["llm", "c++"], '
    '"config": {"n_ctx": 4096, "temperature": 0.7, "stop": ["\\n\\n", "</s>"]}, '
    '"enabled": true, "ratio": -1.5e-3, "nothing": null}'
)

HTML_CODE = '''<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Hello &amp; welcome</title></head>
<body>
  <div class="main" id='x'>&lt;p&gt; 5 &gt; 3 &nbsp; &#169;</div>
  <script>const f = (a) => a?.b ?? 0;</script>
</body>
</html>'''

SHELL_CODE = (
    "#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do\n"
    "  grep -E '^[0-9]+$' \"$f\" | awk '{s+=$1} END {print s}' > \"${f%.txt}.sum\" 2>&1 || true\n"
    "done\necho $((1 << 4)) && ls -la ~/ | wc -l; cat <<EOF\n$HOME `whoami`\nEOF\n"
)

STRINGS = [
    # --- empty / minimal / whitespace ---
    "",
    " ",
    "\n",
    "\t",
    "\r",
    "\r\n",
    "  ",
    "   ",
    "    ",
    "        ",
    "\n\n",
    "\n\n\n",
    " \n ",
    "\t\t",
    " \t \n \r\n",
    "a",
    "A",
    " a",
    "a ",
    " a ",
    "  a  ",
    "Hello",
    " Hello",
    "Hello ",
    "  Hello  ",
    "Hello world",
    " Hello world",
    "Hello world ",
    "Hello  world",
    "Hello   world",
    "Hello\tworld",
    "Hello\nworld",
    "Hello\n\nworld",
    "Hello\n\n\nworld",
    "Hello \n world",
    "Hello\r\nworld",
    "line one\nline two\n  indented line\n\ttabbed line\n",
    "   leading spaces",
    "trailing spaces   ",
    "\n\nleading newlines",
    "trailing newlines\n\n",
    "mixed \t\n whitespace \n\t runs\t \t",
    "word" + " " * 17 + "word",
    "a\u00a0b",  # no-break space
    "a\u3000b",  # ideographic space
    "a\u2003b",  # em space
    # --- plain English prose ---
    "The quick brown fox jumps over the lazy dog.",
    "the quick brown fox jumps over the lazy dog",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "Once upon a time, there was a little girl who lived in a village near the forest.",
    "It was the best of times, it was the worst of times.",
    "Why? Because I said so!",
    "She sells sea shells by the sea shore.",
    "To be, or not to be: that is the question.",
    LONG_PARAGRAPH,
    LONG_PARAGRAPH_2,
    "First paragraph.\n\nSecond paragraph, which is a little longer than the first one.\n\nThird.",
    "Dear Sir or Madam,\n\nI am writing to inquire about the position advertised.\n\nSincerely,\nJane",
    # --- mixed case ---
    "HeLLo WoRLD",
    "iPhone macOS JavaScript TypeScript GitHub",
    "camelCaseIdentifier snake_case_identifier SCREAMING_SNAKE kebab-case",
    "McDonald's O'Neill MacBook",
    "ALL CAPS SENTENCE WITH SOME lower case",
    "XMLHttpRequest HTTPServer getHTTPResponseCode",
    # --- contractions ---
    "don't",
    "I'M",
    "they'll",
    "it's",
    "I'm sure you're right, but we'll see; they've said it's fine and he'd agree.",
    "DON'T YOU'LL WE'RE THEY'VE SHE'D IT'S",
    "Don't won't can't shouldn't wouldn't couldn't ain't",
    "rock 'n' roll, 'quoted', \"double\", ''empty''",
    "the dog's bone, the dogs' bones, James's car",
    # --- digits and numbers ---
    "0",
    "7",
    "42",
    "123",
    "1234",
    "12345",
    "1234567890",
    "12345678901234567890",
    "3.14159",
    "3.141592653589793238462643383279",
    "-42",
    "+1.5e-10",
    "1,000,000",
    "1.000.000,50",
    "$1,234.56",
    "€99.99 £5 ¥1000",
    "50%",
    "0x1F 0b1010 0o777 0xDEADBEEF",
    "2024-01-15",
    "15/01/2024",
    "January 15, 2024",
    "12:34:56",
    "2024-01-15T12:34:56.789Z",
    "Call 555-0123 or +1 (800) 555-0199.",
    "The answer is 42, not 41 or 43.",
    "1 2 3 4 5 6 7 8 9 10",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
    "1\n2\n3\n4\n5",
    "v1.2.3-rc.4+build.567",
    "IPv4 192.168.0.1 and IPv6 2001:db8::ff00:42:8329",
    "ISBN 978-3-16-148410-0",
    "x^2 + y^2 = z^2; 2+2=4; 10/3≈3.33; 5×6=30; √2; π; ∞; ±1",
    # --- code ---
    PY_CODE,
    "def f(x):\n    return x * 2\n",
    "    if x == 1:\n        pass\n    elif x != 2:\n        x += 1",
    "print(f\"{name!r:>10}\")",
    "lambda x: [i**2 for i in range(x) if i % 2 == 0]",
    "import numpy as np\nnp.zeros((3, 4), dtype=np.float32)",
    CPP_CODE,
    "int main() { return 0; }",
    "std::unique_ptr<Foo> p = std::make_unique<Foo>(1, 2);",
    "for (int i = 0; i < n; ++i) { a[i] += b[i] * c[i]; }",
    "x->y->z; a::b::c; p && q || !r; i++ --j; a <<= 2; b >>= 3;",
    "#define MAX(a, b) ((a) > (b) ? (a) : (b))",
    "/* block comment */ // line comment",
    JSON_CODE,
    '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
    "[{\"id\": 1}, {\"id\": 2}]",
    HTML_CODE,
    "<div><span>text</span></div>",
    "<a href=\"https://example.com\">link</a>",
    SHELL_CODE,
    "ls -la | grep foo > out.txt 2>&1 &",
    "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name ORDER BY 2 DESC;",
    "fn main() { let v: Vec<u8> = vec![1, 2, 3]; println!(\"{:?}\", v); }",
    "const add = (a, b) => a + b; console.log(`sum: ${add(1, 2)}`);",
    "func main() {\n\tfmt.Println(\"hello\")\n}",
    "\\begin{equation} E = mc^2 \\end{equation}",
    "a_b__c___d ____init____",
    "# Heading\n\n- item 1\n- item 2\n\n**bold** _italic_ `code`\n\n```python\nx = 1\n```",
    "| col1 | col2 |\n|------|------|\n| a    | b    |",
    # --- punctuation runs ---
    "!!!",
    "???",
    "...",
    "?!?!?!",
    "Wait... what?!",
    "--- === *** ### @@@ $$$ %%% ^^^ &&& ((( )))",
    "~`!@#$%^&*()_+-={}[]|\\:;\"'<>,.?/",
    "-----------------------------------------",
    "=========================================",
    "...........................",
    "“smart quotes” ‘single’ «guillemets» „German“",
    "em—dash en–dash hyphen-minus … ellipsis",
    "(parenthetical) [bracketed] {braced} <angled>",
    # --- URLs and emails ---
    "https://www.example.com/path/to/page?query=1&other=two#fragment",
    "http://localhost:8080/api/v1/users/123",
    "Visit https://github.com/ggml-org/llama.cpp for details.",
    "ftp://files.example.org/pub/file.tar.gz",
    "john.doe+tag@example.co.uk",
    "Contact us at support@example.com or sales@example.org.",
    "www.example.com",
    "C:\\Users\\Admin\\Documents\\file.txt",
    "/usr/local/bin/python3 --version",
    # --- emoji ---
    "😀",
    "Hello 👋 world 🌍",
    "🔥🔥🔥",
    "👨‍👩‍👧‍👦",
    "👩🏽‍💻",
    "🏳️‍🌈",
    "🇺🇸🇯🇵🇫🇷🇩🇪",
    "❤️ ♥ ☺️ ✔️ ✅ ❌",
    "I love pizza 🍕 and tacos 🌮!",
    "👍🏻👍🏼👍🏽👍🏾👍🏿",
    "🧑‍🚀 🐈‍⬛ 🫠 🥲",
    # --- CJK ---
    "你好，世界！",
    "我爱自然语言处理。今天天气很好，我们去公园散步吧。",
    "中华人民共和国成立于1949年。",
    "こんにちは",
    "カタカナとひらがなと漢字を混ぜた日本語の文章です。",
    "東京タワーは高さ333メートルです。",
    "ｱｲｳｴｵ ＡＢＣ １２３",
    "안녕하세요",
    "한국어 문장을 토큰화합니다. 감사합니다!",
    "English mixed with 中文 and 日本語 and 한국어.",
    # --- accents and other scripts ---
    "café naïve résumé façade",
    "Où est la bibliothèque ? C'est à côté de l'église.",
    "Größe, Straße, Fußball, weiß",
    "Die Donaudampfschifffahrtsgesellschaftskapitänsmütze ist schön.",
    "Tiếng Việt có nhiều dấu: ắ ằ ẳ ẵ ặ ệ ộ ữ.",
    "¿Dónde está el baño? ¡Muy bien!",
    "São Paulo, Açaí, Coração",
    "Zażółć gęślą jaźń",
    "Příliš žluťoučký kůň úpěl ďábelské ódy",
    "Ελληνικά: Γειά σου Κόσμε",
    "Привет, мир! Как дела?",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "مرحبا بالعالم",
    "اللغة العربية جميلة جدا.",
    "שלום עולם",
    "עברית נכתבת מימין לשמאל.",
    "नमस्ते दुनिया",
    "हिन्दी भाषा में वाक्य।",
    "สวัสดีชาวโลก",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "Türkçe: ğüşıöç İstanbul",
    "Ærøskøbing, Åland, Øresund",
    "e\u0301 vs \u00e9",  # combining vs precomposed
    "ﬁ ﬂ ligatures, ½ ¼ ², ℃ ™ ©",
    "ሰላም ለዓለም",
    "Բարեւ աշխարհ",
    "გამარჯობა",
    # --- control tokens of both models, spelled as text ---
    "<bos>",
    "<eos>",
    "<pad>",
    "<unk>",
    "<bos>Hello",
    "Hello<eos>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_turn>user\nhi<end_of_turn>",
    "<start_of_turn>user\nWrite a poem.<end_of_turn>\n<start_of_turn>model\n",
    " <start_of_turn> ",
    "<start_of_turn><end_of_turn><start_of_turn>",
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>",
    " <|im_start|> ",
    "<|im_start|><|im_end|><|endoftext|>",
    "text<|endoftext|>more text",
    "<s>",
    "</s>",
    "<mask>",
    "<start_of_image>",
    "<|im_start",
    "im_start|>",
    "<bos><bos>",
    "< bos >",
    "<BOS>",
    # --- byte-token look-alikes ---
    "<0x41>",
    "<0x0A>",
    "<0xFF><0x00>",
    "<0x41><0x42><0x43>",
    # --- SentencePiece / GPT-2 markers as literal text ---
    "▁",
    "▁hello▁world",
    "hello▁ world",
    "▁▁▁",
    "Ġ",
    "Ġhello Ġworld",
    "ĠĠĠ",
    "Ċ",
    "âĢĻ",
    # --- control characters ---
    "a\tb\tc",
    "a\rb",
    "\x01\x02\x03",
    "bell\x07 escape\x1b[31mred\x1b[0m",
    "\x7f",
    "\u200b zero-width space\u200b",
    "\ufeffBOM at start",
    "\u200d joiner \u200c non-joiner",
    # --- long repetitions ---
    "hello " * 50,
    "a" * 100,
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    "ab" * 60,
    "the " * 64,
    "Buffalo buffalo Buffalo buffalo buffalo buffalo Buffalo buffalo.",
    "na" * 16 + " Batman!",
    " " * 40 + "x",
    "\n" * 20,
    "🙂" * 20,
    "很" * 30,
    "9" * 64,
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "supercalifragilisticexpialidocious",
    # --- misc ---
    "@user #hashtag $TICKER",
    "key=value; key2=\"value 2\"; key3='v3'",
    "Q: What is 2+2?\nA: 4",
    "User: hi\nAssistant: hello",
    "### Instruction:\nSummarize.\n\n### Response:\n",
    "[INST] hello [/INST]",
    "Mr. Smith went to Washington, D.C., on Jan. 5th at 3 p.m.",
    "e.g. i.e. etc. vs. cf.",
    "naïve coöperate résumé 😀 中文 123 <|im_end|> <end_of_turn>",
]
