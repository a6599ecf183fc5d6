#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "gguf/gguf_writer.h"

namespace parley {
namespace {

constexpr const char* kSmolTemplate =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}";

ChatTemplate Named(const std::string& name) {
  StatusOr<ChatTemplate> t = ChatTemplate::FromName(name);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return *t;
}

TEST(ChatTemplateTest, GemmaMergesSystemIntoFirstUserTurn) {
  ChatTemplate t = Named("gemma");
  EXPECT_STREQ(t.name(), "gemma");
  StatusOr<std::string> out = t.Render({{"system", " Be brief. "},
                                        {"user", "  Hi there\n"},
                                        {"assistant", "Hello!"},
                                        {"user", "Bye"}},
                                       true);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out,
            "<bos><start_of_turn>user\nBe brief.\n\nHi there<end_of_turn>\n"
            "<start_of_turn>model\nHello!<end_of_turn>\n"
            "<start_of_turn>user\nBye<end_of_turn>\n"
            "<start_of_turn>model\n");
  out = t.Render({{"user", "Hi"}}, false);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "<bos><start_of_turn>user\nHi<end_of_turn>\n");
}

TEST(ChatTemplateTest, GemmaRejectsNonAlternatingTurns) {
  ChatTemplate t = Named("gemma");
  EXPECT_FALSE(t.Render({{"user", "a"}, {"user", "b"}}, true).ok());
  EXPECT_FALSE(t.Render({{"assistant", "a"}}, true).ok());
  EXPECT_FALSE(t.Render({{"user", "a"}, {"system", "b"}}, true).ok());
  EXPECT_FALSE(t.Render({{"tool", "a"}}, true).ok());
}

TEST(ChatTemplateTest, ChatMLWithoutDefaultSystem) {
  ChatTemplate t = Named("chatml");
  StatusOr<std::string> out = t.Render({{"user", "Hi"}, {"assistant", "Yo"}}, true);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_FALSE(t.Render({{"", "x"}}, true).ok());
}

TEST(ChatTemplateTest, UnknownNameIsAnError) {
  StatusOr<ChatTemplate> t = ChatTemplate::FromName("llama2");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("--chat-template"), std::string::npos);
}

class ChatTemplateGgufTest : public ::testing::Test {
 protected:
  std::string Write(GgufWriter& w) {
    path_ = (std::filesystem::temp_directory_path() /
             ("parley_chat_template_test_" + std::to_string(::getpid()) + ".gguf"))
                .string();
    EXPECT_TRUE(w.WriteFile(path_).ok());
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) std::filesystem::remove(path_);
  }
  std::unique_ptr<GgufFile> Open(GgufWriter& w) {
    StatusOr<std::unique_ptr<GgufFile>> f = GgufFile::Open(Write(w));
    EXPECT_TRUE(f.ok()) << f.status().message();
    return std::move(f).value();
  }
  std::string path_;
};

TEST_F(ChatTemplateGgufTest, SmolLmTemplateInsertsItsDefaultSystem) {
  GgufWriter w;
  w.AddKv("tokenizer.chat_template", GgufValue::Str(kSmolTemplate));
  auto f = Open(w);
  StatusOr<ChatTemplate> t = ChatTemplate::FromGguf(*f, "");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->kind(), ChatTemplateKind::kChatML);
  StatusOr<std::string> out = t->Render({{"user", "Hi"}}, true);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  out = t->Render({{"system", "S"}, {"user", "Hi"}}, false);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST_F(ChatTemplateGgufTest, PlainChatMLTemplateHasNoDefaultSystem) {
  GgufWriter w;
  w.AddKv("tokenizer.chat_template",
          GgufValue::Str("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + "
                         "m['content'] + '<|im_end|>\n'}}{% endfor %}"));
  auto f = Open(w);
  StatusOr<ChatTemplate> t = ChatTemplate::FromGguf(*f, "");
  ASSERT_TRUE(t.ok());
  StatusOr<std::string> out = t->Render({{"user", "Hi"}}, false);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "<|im_start|>user\nHi<|im_end|>\n");
}

TEST_F(ChatTemplateGgufTest, DetectsGemmaAndHonoursOverride) {
  GgufWriter w;
  w.AddKv("tokenizer.chat_template",
          GgufValue::Str("{{ bos_token }}{% for m in messages %}<start_of_turn>...{% endfor %}"));
  auto f = Open(w);
  StatusOr<ChatTemplate> t = ChatTemplate::FromGguf(*f, "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind(), ChatTemplateKind::kGemma);
  t = ChatTemplate::FromGguf(*f, "chatml");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind(), ChatTemplateKind::kChatML);
}

TEST_F(ChatTemplateGgufTest, UnknownTemplateAsksForTheFlag) {
  GgufWriter w;
  w.AddKv("tokenizer.chat_template", GgufValue::Str("[INST] {{ content }} [/INST]"));
  auto f = Open(w);
  StatusOr<ChatTemplate> t = ChatTemplate::FromGguf(*f, "");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("--chat-template gemma"), std::string::npos);
}

TEST_F(ChatTemplateGgufTest, MissingTemplateFallsBackToTurnTokens) {
  GgufWriter w;
  w.AddKv("tokenizer.ggml.tokens",
          GgufValue::StrArray({"<pad>", "<start_of_turn>", "<end_of_turn>"}));
  auto f = Open(w);
  StatusOr<ChatTemplate> t = ChatTemplate::FromGguf(*f, "");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->kind(), ChatTemplateKind::kGemma);
  EXPECT_EQ(t->source(), ChatTemplateSource::kVocabulary);
  const std::string warning = t->FallbackWarning("m.gguf");
  EXPECT_NE(warning.find("m.gguf has no chat template"), std::string::npos) << warning;
  EXPECT_NE(warning.find("fallback template \"gemma\""), std::string::npos) << warning;
  // An explicit choice is not a fallback.
  t = ChatTemplate::FromGguf(*f, "gemma");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->source(), ChatTemplateSource::kOverride);
  EXPECT_EQ(t->FallbackWarning("m.gguf"), "");
}

TEST_F(ChatTemplateGgufTest, TemplateFromTheFileNeedsNoWarning) {
  GgufWriter w;
  w.AddKv("tokenizer.chat_template", GgufValue::Str(kSmolTemplate));
  auto f = Open(w);
  StatusOr<ChatTemplate> t = ChatTemplate::FromGguf(*f, "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->source(), ChatTemplateSource::kFile);
  EXPECT_EQ(t->FallbackWarning("m.gguf"), "");
}

TEST_F(ChatTemplateGgufTest, MissingTemplateAndNoMarkersIsAnError) {
  GgufWriter w;
  w.AddKv("tokenizer.ggml.tokens", GgufValue::StrArray({"a", "b"}));
  auto f = Open(w);
  StatusOr<ChatTemplate> t = ChatTemplate::FromGguf(*f, "");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("--chat-template"), std::string::npos);
}

}  // namespace
}  // namespace parley
