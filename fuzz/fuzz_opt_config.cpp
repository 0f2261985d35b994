// Fuzz target: the OPT config.json reader. A malformed or inconsistent configuration must
// end in sgpte::Error; a configuration it accepts must satisfy the invariants the model
// code relies on (checked here, so that a silently accepted bad value is a finding too).

#include <sgpte/io/opt_config.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const *data, std::size_t size)
{
  sgpte_fuzz::InputFile const file(data, size);
  try
  {
    sgpte::io::OptConfig const config = sgpte::io::read_opt_config(file.path());
    bool const valid =
        config.hidden_size > 0 && config.hidden_size < sgpte::io::opt_dimension_limit &&
        config.num_attention_heads > 0 && config.hidden_size % config.num_attention_heads == 0 &&
        config.head_dim() > 0 && config.ffn_dim > 0 && config.vocab_size > 0 &&
        config.max_position_embeddings > 0 && config.word_embed_proj_dim > 0 &&
        config.num_hidden_layers > 0 && config.num_hidden_layers < sgpte::io::opt_layer_limit &&
        config.activation_function == "relu" && config.json.is_object();
    if (!valid)
      std::abort();
  }
  catch (sgpte::Error const &)
  {
  }
  return 0;
}
