// The single-process communicator, and the launch detection that decides
// between it and MPI: alone, nothing initialises MPI; the launchers' variables
// (Open MPI's, PMI's) are read as mpirun and srun set them. The collectives
// under mpirun are tests/mpi_collectives_test.cc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "seqtrain/error.h"

namespace seqtrain::testing {
namespace {

// Sets (or unsets, with nullptr) environment variables for one scope.
class ScopedEnvironment {
 public:
  void set(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved_.push_back({name, old != nullptr, old != nullptr ? old : ""});
    if (value != nullptr)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnvironment() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->had)
        ::setenv(it->name.c_str(), it->value.c_str(), 1);
      else
        ::unsetenv(it->name.c_str());
    }
  }

 private:
  struct Saved {
    std::string name;
    bool had;
    std::string value;
  };
  std::vector<Saved> saved_;
};

void clear_launch(ScopedEnvironment& environment) {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMI_SIZE", "PMI_RANK",
                           "PMIX_RANK"})
    environment.set(name, nullptr);
}

TEST(Communicator, AloneIsOneRankWhoseCollectivesLeaveItsValues) {
  ScopedEnvironment environment;
  clear_launch(environment);
  EXPECT_FALSE(detect_launch().by_launcher);
  std::unique_ptr<Communicator> c = make_communicator();
  EXPECT_EQ(c->describe(), "single process");
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->world_size(), 1);
  std::vector<float> values{1.5f, -2.0f};
  c->all_reduce_sum(values);
  EXPECT_EQ(values, (std::vector<float>{1.5f, -2.0f}));
  std::vector<float> gathered(2);
  c->all_gather(values, gathered);
  EXPECT_EQ(gathered, values);
  std::vector<float> piece(2);
  c->reduce_scatter_sum(values, piece);
  EXPECT_EQ(piece, values);
}

TEST(Communicator, LaunchersAreReadFromTheirVariables) {
  ScopedEnvironment environment;
  clear_launch(environment);
  environment.set("OMPI_COMM_WORLD_SIZE", "4");
  environment.set("OMPI_COMM_WORLD_RANK", "3");
  Launch launch = detect_launch();
  EXPECT_TRUE(launch.by_launcher);
  EXPECT_EQ(launch.launcher, "mpirun");
  EXPECT_EQ(launch.rank, 3);
  EXPECT_EQ(launch.world_size, 4);

  clear_launch(environment);
  environment.set("PMI_SIZE", "8");
  environment.set("PMI_RANK", "5");
  launch = detect_launch();
  EXPECT_EQ(launch.launcher, "PMI");
  EXPECT_EQ(launch.rank, 5);
  EXPECT_EQ(launch.world_size, 8);
}

TEST(Communicator, UnderALauncherWithoutThePluginIsAOneLineDeviceError) {
  ScopedEnvironment environment;
  clear_launch(environment);
  environment.set("OMPI_COMM_WORLD_SIZE", "2");
  environment.set("OMPI_COMM_WORLD_RANK", "1");
  environment.set("SEQTRAIN_MPI_PLUGIN", "/nonexistent/libseqtrain_mpi.so");
  // The plug-in is looked for once per process: this test binary has not yet
  // (no other test here makes an MPI communicator).
  try {
    make_communicator();
    FAIL() << "no error";
  } catch (const DeviceError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("started by mpirun (rank 1), but MPI is unavailable"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace seqtrain::testing
