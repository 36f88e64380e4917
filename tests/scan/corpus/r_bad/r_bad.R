# Shell commands (R001), in every spelling.
out <- system("id", intern = TRUE)
system2("ls", args = "-l")
shell("dir")
con <- pipe("uname -a")
base::system("whoami")
"system"("hostname")
runner <- system
