# Spack recipe for sgdsweep: the MPI sweep engine for "On the Generalization Benefit of Noise in
# SGD". Used through the environment in ../../../spack.yaml (spack env activate . && spack install).
from spack.package import *


class Sgdsweep(CMakePackage):
    """MPI sweep engine reproducing Smith, Elsen & De (ICML 2020) at scale: learning rate x seed x
    batch size grids across ranks, one parallel HDF5 file, and the paper's analysis protocol."""

    homepage = "https://github.com/sgdsweep/sgdsweep"
    git = "https://github.com/sgdsweep/sgdsweep.git"

    version("main", branch="main")

    variant("cuda", default=False, description="CUDA backend (kernels/: cuBLAS, cuDNN)")
    variant("tests", default=False, description="Build the GoogleTest suite and benchmarks")

    depends_on("cmake@3.25:", type="build")
    depends_on("mpi")
    depends_on("hdf5@1.10:+mpi+hl")
    depends_on("kokkos@3.4:+serial~cuda")
    depends_on("cli11@2:")
    depends_on("tomlplusplus@3:")
    depends_on("blas")
    depends_on("zlib-api")
    depends_on("libjpeg-turbo")  # the image-folder reader (pkg-config libturbojpeg)
    depends_on("pkgconfig", type="build")
    depends_on("cuda@12:", when="+cuda")
    depends_on("cudnn@9:", when="+cuda")
    depends_on("googletest", when="+tests", type=("build", "test"))
    depends_on("benchmark", when="+tests", type="build")
    depends_on("py-h5py", when="+tests", type="test")
    depends_on("py-torch", when="+tests", type="test")
    depends_on("py-matplotlib", when="+tests", type="test")

    def cmake_args(self):
        args = [
            self.define("HDF5_ROOT", self.spec["hdf5"].prefix),
            self.define("Kokkos_ROOT", self.spec["kokkos"].prefix),
            self.define_from_variant("SGDSWEEP_CUDA", "cuda"),
            self.define_from_variant("SGDSWEEP_TESTS", "tests"),
            self.define_from_variant("SGDSWEEP_BENCH", "tests"),
        ]
        if self.spec.satisfies("+cuda"):
            cudnn = self.spec["cudnn"]
            args += [
                self.define("CMAKE_CUDA_COMPILER", self.spec["cuda"].prefix.bin.nvcc),
                self.define("SGDSWEEP_CUDNN_INCLUDE_DIR", cudnn.prefix.include),
                self.define("SGDSWEEP_CUDNN_LIBRARY", cudnn.libs[0]),
            ]
        return args
