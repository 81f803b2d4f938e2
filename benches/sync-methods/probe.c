/* Sync-method probe for BENCHMARKS.md ("Journal sync methods"): appends CHUNK bytes COUNT times
 * to a file prepared as PREP and makes each append durable with MODE; prints syncs/s and
 * latency. gcc -O2 -o probe benches/sync-methods/probe.c && ./probe direct zero 16384 2000 /tmp
 * MODE: mmap-msync | mmap-fdatasync | pwrite (pwrite+fdatasync) | odsync | direct (O_DIRECT|O_DSYNC)
 * PREP: falloc (posix_fallocate: unwritten extents) | zero (written with zeros, synced) | none */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <time.h>
#include <stdint.h>
#include <errno.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  if(argc<5){fprintf(stderr,"probe MODE PREP(falloc|zero|none) CHUNK COUNT [dir]\n");return 1;}
  const char*mode=argv[1],*prep=argv[2];size_t chunk=atol(argv[3]);int n=atoi(argv[4]);
  const char*dir=argc>5?argv[5]:"/tmp/durable-probe";
  size_t size=(size_t)chunk*n+(1<<20); size=(size+4095)&~4095UL;
  char path[512];snprintf(path,512,"%s/probe.%d",dir,getpid());
  int flags=O_RDWR|O_CREAT|O_TRUNC;
  int fd=open(path,flags,0644); if(fd<0){perror("open");return 1;}
  if(!strcmp(prep,"falloc")){ if(posix_fallocate(fd,0,size)){perror("fallocate");return 1;} fsync(fd);}
  else if(!strcmp(prep,"zero")){ char*z=calloc(1,1<<20); for(size_t o=0;o<size;o+=1<<20) pwrite(fd,z,1<<20,o); fsync(fd); free(z);}
  int dfd=-1;
  if(!strcmp(mode,"odsync")) dfd=open(path,O_RDWR|O_DSYNC);
  if(!strcmp(mode,"direct")) dfd=open(path,O_RDWR|O_DIRECT|O_DSYNC);
  char*map=NULL;
  if(!strncmp(mode,"mmap",4)){ if(strcmp(prep,"none")==0){ftruncate(fd,size);} map=mmap(NULL,size,PROT_READ|PROT_WRITE,MAP_SHARED,fd,0); if(map==MAP_FAILED){perror("mmap");return 1;}}
  char*buf; posix_memalign((void**)&buf,4096,size); memset(buf,0,size);
  double*lat=malloc(sizeof(double)*n); size_t pos=0,synced=0; double t0=now();
  for(int i=0;i<n;i++){
    double t=now();
    if(map){ memset(map+pos,(i&0xff)|1,chunk); pos+=chunk;
      size_t s=synced&~4095UL;
      if(!strcmp(mode,"mmap-msync")){ if(msync(map+s,pos-s,MS_SYNC)){perror("msync");return 1;} }
      else { if(fdatasync(fd)){perror("fdatasync");return 1;} }
      synced=pos;
    } else {
      memset(buf+pos,(i&0xff)|1,chunk); pos+=chunk;
      if(!strcmp(mode,"direct")){ size_t s=synced&~4095UL,e=(pos+4095)&~4095UL; if(pwrite(dfd,buf+s,e-s,s)!=(ssize_t)(e-s)){perror("pwrite direct");return 1;} }
      else if(!strcmp(mode,"odsync")){ if(pwrite(dfd,buf+synced,pos-synced,synced)<0){perror("pwrite");return 1;} }
      else { if(pwrite(fd,buf+synced,pos-synced,synced)<0){perror("pwrite");return 1;} if(fdatasync(fd)){perror("fdatasync");return 1;} }
      synced=pos;
    }
    lat[i]=now()-t;
  }
  double el=now()-t0; qsort(lat,n,sizeof(double),cmp);
  printf("%-14s %-6s chunk=%6zu n=%5d  syncs/s=%7.0f MB/s=%6.1f p50=%6.0fus p99=%6.0fus max=%6.0fus\n",mode,prep,chunk,n,n/el*1e6,pos/el,lat[n/2],lat[n*99/100],lat[n-1]);
  unlink(path); return 0;
}
