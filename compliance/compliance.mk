# compliance/compliance.mk - vector parsers (shared with the engine tests) and the compliance runner.

COMP_SRCS := $(wildcard compliance/src/*.c)
COMP_OBJS := $(COMP_SRCS:%.c=$(O)/%.o)
COMP_LIB := $(O)/libcomp.a
$(COMP_OBJS): CPPFLAGS += -Icompliance/include -Iengine/include $(CJSON_CFLAGS)

$(COMP_LIB): $(COMP_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
