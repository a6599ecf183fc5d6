// The built-in text of the synthetic workload (corpus_data.cc): pieces of chat-character
// personas and of user messages, written for this project.
#pragma once

#include <cstddef>

namespace parley::loadgen {

extern const char* const kCharacterNames[];
extern const char* const kCharacterRoles[];
extern const char* const kPersonaSentences[];
extern const char* const kExampleDialogue[];
extern const char* const kUserSentences[];
extern const size_t kNumCharacterNames;
extern const size_t kNumCharacterRoles;
extern const size_t kNumPersonaSentences;
extern const size_t kNumExampleDialogue;
extern const size_t kNumUserSentences;

}  // namespace parley::loadgen
