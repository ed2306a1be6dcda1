/* main.c: the flowline binary; everything is in libflowline (cli.c). */
int fl_main(int argc, char **argv);

int main(int argc, char **argv)
{
    return fl_main(argc, argv);
}
