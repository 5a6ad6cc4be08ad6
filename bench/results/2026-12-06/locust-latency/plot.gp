set terminal pngcairo size 1600,800 font 'sans,10'
set output '/work/main/build-release/bench/locust-20261206-094614/plot.png'
set datafile missing '?'
set multiplot layout 2,4 title 'Locust, mixed journey: p95 response time per user level (ms)'
set key top left
set grid
set xlabel 'users'
set ylabel 'p95 ms'
set yrange [0:*]
set xtics (50, 250, 500)
set logscale x
set title "all requests" noenhanced
plot '/work/main/build-release/bench/locust-20261206-094614/plot.dat' index 0 using 1:2 with linespoints lw 2 pt 7 title 'direct', '' index 0 using 1:3 with linespoints lw 2 pt 5 title 'perfgate'
set title "home GET /" noenhanced
plot '/work/main/build-release/bench/locust-20261206-094614/plot.dat' index 1 using 1:2 with linespoints lw 2 pt 7 title 'direct', '' index 1 using 1:3 with linespoints lw 2 pt 5 title 'perfgate'
set title "items GET /api/items" noenhanced
plot '/work/main/build-release/bench/locust-20261206-094614/plot.dat' index 2 using 1:2 with linespoints lw 2 pt 7 title 'direct', '' index 2 using 1:3 with linespoints lw 2 pt 5 title 'perfgate'
set title "item GET /api/items/[id]" noenhanced
plot '/work/main/build-release/bench/locust-20261206-094614/plot.dat' index 3 using 1:2 with linespoints lw 2 pt 7 title 'direct', '' index 3 using 1:3 with linespoints lw 2 pt 5 title 'perfgate'
set title "search GET /api/search?q=[term]" noenhanced
plot '/work/main/build-release/bench/locust-20261206-094614/plot.dat' index 4 using 1:2 with linespoints lw 2 pt 7 title 'direct', '' index 4 using 1:3 with linespoints lw 2 pt 5 title 'perfgate'
set title "static GET /static/app.js" noenhanced
plot '/work/main/build-release/bench/locust-20261206-094614/plot.dat' index 5 using 1:2 with linespoints lw 2 pt 7 title 'direct', '' index 5 using 1:3 with linespoints lw 2 pt 5 title 'perfgate'
set title "order POST /api/orders?item=[id]" noenhanced
plot '/work/main/build-release/bench/locust-20261206-094614/plot.dat' index 6 using 1:2 with linespoints lw 2 pt 7 title 'direct', '' index 6 using 1:3 with linespoints lw 2 pt 5 title 'perfgate'
set title "login POST /api/login" noenhanced
plot '/work/main/build-release/bench/locust-20261206-094614/plot.dat' index 7 using 1:2 with linespoints lw 2 pt 7 title 'direct', '' index 7 using 1:3 with linespoints lw 2 pt 5 title 'perfgate'
unset multiplot
