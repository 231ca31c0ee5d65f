#include <cstdio>
int main() { std::puts("seqtrain"); return 0; }
