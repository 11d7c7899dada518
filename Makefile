# The C side of stickyscope, run by `npm run build` after tsc: vmlinux.h from a kernel's BTF, every
# bpf/*.bpf.c compiled with clang and linked into one object by `bpftool gen object`, its skeleton, the probe
# helper build/stickyscope-probe (which embeds the skeleton) and the bench's load generator build/flood.
#
#   make                          this machine, from the running kernel's BTF, into build/
#   make ARCH=arm64 BTF=FILE      cross-built into build/arm64 from an arm64 kernel's BTF (never this kernel's:
#                                 npm run test:kernels -- --arch arm64 cuts one out of Debian's arm64 kernel into
#                                 /var/cache/stickyscope/vm/arm64/6.1/vmlinux.btf)
#   make V=1                      shows each command
#
# A step that fails says "failed to ..." and leaves no output behind (.DELETE_ON_ERROR), so the next make
# redoes it instead of taking a broken file for a fresh one.

CLANG ?= clang
BPFTOOL ?= bpftool

# bpf_tracing.h's names (-D__TARGET_ARCH_x86/arm64: where kprobe arguments sit in pt_regs); uname's and Debian's
# spellings are taken too.
arch_of = $(if $(filter x86 x86_64 amd64 x64,$(1)),x86,$(if $(filter arm64 aarch64,$(1)),arm64))
HOST_ARCH := $(call arch_of,$(shell uname -m))
ARCH ?= $(HOST_ARCH)
TARGET := $(call arch_of,$(ARCH))
ifeq ($(TARGET),)
$(error failed to choose the target: ARCH must be x86_64 or arm64 (or x86, amd64, x64, aarch64), got '$(ARCH)')
endif

ifeq ($(TARGET),$(HOST_ARCH))
OUTPUT := build
BTF ?= /sys/kernel/btf/vmlinux
else
# Node's names for the folder: build/arm64, build/x64.
OUTPUT := build/$(if $(filter x86,$(TARGET)),x64,arm64)
CC := $(if $(filter x86,$(TARGET)),x86_64,aarch64)-linux-gnu-gcc
ifeq ($(BTF),)
$(error failed to find a kernel BTF for $(TARGET): building for $(TARGET) on $(HOST_ARCH) needs that architecture's kernel BTF, not this kernel's; set BTF=FILE)
endif
endif

BPF_SRCS := $(sort $(wildcard bpf/*.bpf.c))
BPF_HDRS := $(wildcard bpf/*.h)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/bpf/%.o,$(BPF_SRCS))
HELPER_SRCS := $(sort $(wildcard src/probe/native/*.c))
HELPER_HDRS := $(wildcard src/probe/native/*.h)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' '$(1)' '$(2)'
endif
# Appended to a step's command: one line naming the step when it fails.
failed = || { echo 'failed to $(1)' >&2; exit 1; }

.DELETE_ON_ERROR:
.PHONY: all FORCE

all: $(OUTPUT)/stickyscope-probe $(OUTPUT)/flood

# Rewritten only when the BTF named changes, so another BTF file regenerates vmlinux.h.
$(OUTPUT)/btf-source: FORCE
	@mkdir -p $(@D)
	@echo '$(BTF)' | cmp -s - $@ || echo '$(BTF)' > $@

$(OUTPUT)/vmlinux.h: $(BTF) $(OUTPUT)/btf-source
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file $(BTF) format c > $@ $(call failed,generate $@ from $(BTF))

$(OUTPUT)/bpf/%.o: bpf/%.bpf.c $(BPF_HDRS) $(OUTPUT)/vmlinux.h
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) -g -O2 -Wall -target bpf -D__TARGET_ARCH_$(TARGET) -I$(OUTPUT) -Ibpf -c $< -o $@ \
		$(call failed,compile $<)

$(OUTPUT)/stickyscope.bpf.o: $(BPF_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $^ $(call failed,link the BPF objects)

$(OUTPUT)/stickyscope.skel.h: $(OUTPUT)/stickyscope.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name stickyscope > $@ $(call failed,generate the BPF skeleton)

$(OUTPUT)/stickyscope-probe: $(HELPER_SRCS) $(HELPER_HDRS) bpf/record.h $(OUTPUT)/stickyscope.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -g -Wall -Wextra -I$(OUTPUT) -Ibpf -o $@ $(HELPER_SRCS) -lbpf -lelf -lz -lnetfilter_conntrack \
		$(call failed,compile the probe helper for $(TARGET))

# The kernel matrix's VMs flood too, for their overhead rows.
$(OUTPUT)/flood: bench/flood.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wall -Wextra -o $@ $< $(call failed,compile the bench load generator for $(TARGET))
